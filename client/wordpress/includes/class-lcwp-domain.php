<?php
/**
 * Canonical site domains and development hosts (PROTOCOL §3).
 *
 * A host or URL becomes its host: scheme, port, path, query and fragment are
 * dropped; userinfo, wildcards, empty labels, percent-encoding and hosts over 253
 * octets are refused. One trailing dot goes, the name is mapped with UTS 46
 * (ext-intl's ICU, non-transitional, STD3 rules; without ext-intl only ASCII hosts
 * are accepted) to lowercase A-labels, and one leading "www." label is dropped.
 * IPv4 literals stay dotted quads; IPv6 literals become RFC 5952 text.
 *
 * @package Lcwp
 */

if ( ! defined( 'ABSPATH' ) && ! defined( 'LCWP_TESTING' ) ) {
	exit;
}

/** Raised for a host that has no canonical domain. */
class Lcwp_Domain_Error extends Exception {
}

/** Compute canonical domains as the server does. */
final class Lcwp_Domain {
	const MAX_HOST  = 253;
	const MAX_LABEL = 63;
	const SPACE     = " \t\n\r\f\v";

	/** @var bool|null Force the ASCII-only path (tests); null: detect ext-intl. */
	public static $use_intl = null;

	/**
	 * Return the canonical domain of a host or URL.
	 *
	 * @param mixed $raw A bare host or a URL.
	 * @return string
	 * @throws Lcwp_Domain_Error When there is none.
	 */
	public static function canonical( $raw ) {
		if ( ! is_string( $raw ) ) {
			throw new Lcwp_Domain_Error( 'a domain must be text' );
		}
		$text = trim( $raw, self::SPACE );
		if ( '' === $text || 1 !== preg_match( '/^\S+$/u', $text ) ) {
			throw new Lcwp_Domain_Error( 'a domain must be non-empty UTF-8 without spaces' );
		}
		return self::canonical_host( self::host_of( $text ) );
	}

	/**
	 * Tell whether a canonical domain is a development host (whole labels only).
	 *
	 * @param string   $domain   A canonical domain.
	 * @param string[] $patterns The product's canonical patterns ("*.x.y", "x.*", "host").
	 * @return bool
	 */
	public static function is_development( $domain, array $patterns = array() ) {
		$packed = self::packed_ip( $domain );
		if ( null !== $packed ) {
			return self::in_dev_network( $packed ) || in_array( $domain, $patterns, true );
		}
		$labels = explode( '.', $domain );
		$tld    = end( $labels );
		if ( 'localhost' === $domain || ( count( $labels ) > 1 && in_array( $tld, array( 'localhost', 'test', 'local', 'example', 'invalid' ), true ) ) ) {
			return true;
		}
		foreach ( $patterns as $pattern ) {
			if ( self::matches( $domain, (string) $pattern ) ) {
				return true;
			}
		}
		return false;
	}

	/**
	 * Whether a domain matches one pattern by whole labels.
	 *
	 * @param string $domain  Canonical domain.
	 * @param string $pattern Canonical pattern.
	 * @return bool
	 */
	private static function matches( $domain, $pattern ) {
		if ( 0 === strpos( $pattern, '*.' ) ) {
			$suffix = substr( $pattern, 1 );
			return strlen( $domain ) > strlen( $suffix ) && substr( $domain, -strlen( $suffix ) ) === $suffix;
		}
		if ( '.*' === substr( $pattern, -2 ) ) {
			$prefix = substr( $pattern, 0, -1 );
			return 0 === strpos( $domain, $prefix );
		}
		return $domain === $pattern;
	}

	/**
	 * The 4- or 16-byte form of an IP literal (IPv4-mapped IPv6 as IPv4), or null.
	 *
	 * @param string $domain Canonical domain.
	 * @return string|null
	 */
	private static function packed_ip( $domain ) {
		if ( false === filter_var( $domain, FILTER_VALIDATE_IP ) ) {
			return null;
		}
		$packed = inet_pton( $domain );
		if ( false === $packed ) {
			return null;
		}
		if ( 16 === strlen( $packed ) && str_repeat( "\0", 10 ) . "\xff\xff" === substr( $packed, 0, 12 ) ) {
			return substr( $packed, 12 );
		}
		return $packed;
	}

	/**
	 * Whether a packed address is loopback, private or link-local.
	 *
	 * @param string $packed 4 or 16 bytes.
	 * @return bool
	 */
	private static function in_dev_network( $packed ) {
		$nets = array(
			array( '0.0.0.0', 8 ),
			array( '127.0.0.0', 8 ),
			array( '10.0.0.0', 8 ),
			array( '172.16.0.0', 12 ),
			array( '192.168.0.0', 16 ),
			array( '169.254.0.0', 16 ),
			array( '::', 128 ),
			array( '::1', 128 ),
			array( 'fc00::', 7 ),
			array( 'fe80::', 10 ),
		);
		foreach ( $nets as $net ) {
			$base = inet_pton( $net[0] );
			if ( strlen( $base ) !== strlen( $packed ) ) {
				continue;
			}
			$bits  = $net[1];
			$bytes = intdiv( $bits, 8 );
			if ( substr( $packed, 0, $bytes ) !== substr( $base, 0, $bytes ) ) {
				continue;
			}
			$rest = $bits % 8;
			if ( 0 === $rest ) {
				return true;
			}
			$mask = ( 0xff << ( 8 - $rest ) ) & 0xff;
			if ( ( ord( $packed[ $bytes ] ) & $mask ) === ( ord( $base[ $bytes ] ) & $mask ) ) {
				return true;
			}
		}
		return false;
	}

	/**
	 * Return the host of a URL or bare authority, checking any port.
	 *
	 * @param string $text Trimmed input.
	 * @return string
	 * @throws Lcwp_Domain_Error On userinfo, a bad port or a broken IPv6 literal.
	 */
	private static function host_of( $text ) {
		if ( preg_match( '~^[A-Za-z][A-Za-z0-9+.\-]*://~', $text, $scheme ) ) {
			$text = substr( $text, strlen( $scheme[0] ) );
		} elseif ( 0 === strpos( $text, '//' ) ) {
			$text = substr( $text, 2 );
		}
		$parts     = preg_split( '~[/?#]~', $text, 2 );
		$authority = $parts[0];
		if ( false !== strpos( $authority, '@' ) ) {
			throw new Lcwp_Domain_Error( 'user@host is not a domain' );
		}
		if ( 0 === strpos( $authority, '[' ) ) {
			$close = strpos( $authority, ']' );
			if ( false === $close ) {
				throw new Lcwp_Domain_Error( 'unterminated IPv6 literal' );
			}
			$rest = (string) substr( $authority, $close + 1 );
			if ( '' !== $rest && ':' !== $rest[0] ) {
				throw new Lcwp_Domain_Error( 'text after an IPv6 literal' );
			}
			self::check_port( (string) substr( $rest, 1 ) );
			return substr( $authority, 0, $close + 1 );
		}
		if ( substr_count( $authority, ':' ) > 1 ) {
			return $authority;
		}
		$pair = explode( ':', $authority, 2 );
		self::check_port( isset( $pair[1] ) ? $pair[1] : '' );
		return $pair[0];
	}

	/**
	 * Refuse a port that is not 0-65535 in at most five digits.
	 *
	 * @param string $port The text after the colon.
	 * @throws Lcwp_Domain_Error On a bad port.
	 */
	private static function check_port( $port ) {
		if ( 1 !== preg_match( '/^\d{0,5}$/', $port ) || ( '' !== $port && (int) $port > 65535 ) ) {
			throw new Lcwp_Domain_Error( 'invalid port' );
		}
	}

	/**
	 * Canonicalise a host (name or IP literal).
	 *
	 * @param string $host The host part.
	 * @return string
	 * @throws Lcwp_Domain_Error When it has no canonical form.
	 */
	private static function canonical_host( $host ) {
		if ( '' === $host || false !== strpos( $host, '%' ) ) {
			throw new Lcwp_Domain_Error( 'empty or percent-encoded host' );
		}
		if ( 0 === strpos( $host, '[' ) || false !== strpos( $host, ':' ) ) {
			$literal = ( '[' === $host[0] && ']' === substr( $host, -1 ) ) ? substr( $host, 1, -1 ) : $host;
			if ( false === filter_var( $literal, FILTER_VALIDATE_IP, FILTER_FLAG_IPV6 ) ) {
				throw new Lcwp_Domain_Error( 'invalid IPv6 literal' );
			}
			return self::ipv6_text( inet_pton( $literal ) );
		}
		$name   = self::canonical_name( $host );
		$labels = explode( '.', $name );
		// WHATWG URL's "ends in a number": digits, or 0x and hex (0x7f000001 is 127.0.0.1)
		if ( 1 === preg_match( '/^([0-9]+|0x[0-9a-f]*)$/', end( $labels ) ) ) {
			if ( false === filter_var( $name, FILTER_VALIDATE_IP, FILTER_FLAG_IPV4 ) ) {
				throw new Lcwp_Domain_Error( 'not a dotted-quad IPv4 address' );
			}
			return $name;
		}
		if ( 'www' === $name ) {
			throw new Lcwp_Domain_Error( "nothing is left after 'www.'" );
		}
		return 0 === strpos( $name, 'www.' ) ? substr( $name, 4 ) : $name;
	}

	/**
	 * Map a host name to lowercase A-labels.
	 *
	 * @param string $host A host name.
	 * @return string
	 * @throws Lcwp_Domain_Error When it is no valid host name.
	 */
	private static function canonical_name( $host ) {
		$host = str_replace( array( "\u{3002}", "\u{ff0e}", "\u{ff61}" ), '.', $host );
		if ( '.' === substr( $host, -1 ) ) {
			$host = substr( $host, 0, -1 );
		}
		if ( '' === $host || false !== strpos( $host, '*' ) || in_array( '', explode( '.', $host ), true ) ) {
			throw new Lcwp_Domain_Error( 'empty label or wildcard in domain' );
		}
		$intl = null === self::$use_intl ? function_exists( 'idn_to_ascii' ) : self::$use_intl;
		$name = $intl ? self::uts46( $host ) : self::ascii_only( $host );
		$labels = explode( '.', $name );
		if ( strlen( $name ) > self::MAX_HOST ) {
			throw new Lcwp_Domain_Error( 'host too long' );
		}
		foreach ( $labels as $label ) {
			if ( '' === $label || strlen( $label ) > self::MAX_LABEL ) {
				throw new Lcwp_Domain_Error( 'empty or too long label' );
			}
		}
		return $name;
	}

	/**
	 * UTS 46 through ext-intl (ICU).
	 *
	 * @param string $host A host name.
	 * @return string
	 * @throws Lcwp_Domain_Error When ICU reports an error.
	 */
	private static function uts46( $host ) {
		$info  = array();
		$flags = IDNA_NONTRANSITIONAL_TO_ASCII | IDNA_CHECK_BIDI | IDNA_CHECK_CONTEXTJ | IDNA_USE_STD3_RULES;
		$ascii = idn_to_ascii( $host, $flags, INTL_IDNA_VARIANT_UTS46, $info );
		if ( false === $ascii || ! empty( $info['errors'] ) ) {
			throw new Lcwp_Domain_Error( 'not a valid IDNA host name' );
		}
		return strtolower( $ascii );
	}

	/**
	 * The fallback without ext-intl: LDH labels in ASCII only, as STD3 demands.
	 *
	 * @param string $host A host name.
	 * @return string
	 * @throws Lcwp_Domain_Error For non-ASCII or non-LDH names.
	 */
	private static function ascii_only( $host ) {
		if ( 1 !== preg_match( '/^[A-Za-z0-9.\-]+$/', $host ) ) {
			throw new Lcwp_Domain_Error( 'without ext-intl only ASCII host names are supported' );
		}
		$name = strtolower( $host );
		foreach ( explode( '.', $name ) as $label ) {
			if ( '-' === $label[0] || '-' === substr( $label, -1 ) ) {
				throw new Lcwp_Domain_Error( 'a label starts or ends with a hyphen' );
			}
			if ( '--' === substr( $label, 2, 2 ) && 0 !== strpos( $label, 'xn--' ) ) {
				throw new Lcwp_Domain_Error( 'hyphens in the third and fourth positions' );
			}
		}
		return $name;
	}

	/**
	 * RFC 5952 text: lowercase hex, the longest zero run (over one group) as "::".
	 *
	 * @param string $packed 16 bytes.
	 * @return string
	 */
	private static function ipv6_text( $packed ) {
		$groups = array();
		foreach ( str_split( $packed, 2 ) as $pair ) {
			$groups[] = dechex( ( ord( $pair[0] ) << 8 ) | ord( $pair[1] ) );
		}
		$best     = -1;
		$best_len = 1;
		$index    = 0;
		while ( $index < 8 ) {
			$end = $index;
			while ( $end < 8 && '0' === $groups[ $end ] ) {
				++$end;
			}
			if ( $end - $index > $best_len ) {
				$best     = $index;
				$best_len = $end - $index;
			}
			$index = max( $end, $index + 1 );
		}
		if ( $best < 0 ) {
			return implode( ':', $groups );
		}
		return implode( ':', array_slice( $groups, 0, $best ) ) . '::' . implode( ':', array_slice( $groups, $best + $best_len ) );
	}
}
