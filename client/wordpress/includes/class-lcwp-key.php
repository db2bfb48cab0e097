<?php
/**
 * License-key format, checked offline before any network call (PROTOCOL §1).
 *
 * PPP-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX: an optional prefix (2-8 of A-Z0-9) and 25
 * symbols of Crockford's base32, the last a Luhn mod 32 check symbol. Parsing
 * ignores case, dashes and the pinned whitespace set (keys.json "whitespace") and
 * reads I/L as 1 and O as 0 in the body. An Envato purchase code (a UUID as Envato
 * shows it, 8-4-4-4-12 hexadecimal digits with dashes) is accepted as it is, in
 * lower case, for products that take them.
 *
 * @package Lcwp
 */

if ( ! defined( 'ABSPATH' ) && ! defined( 'LCWP_TESTING' ) ) {
	exit;
}

/** Raised for text that is not a license key. */
class Lcwp_Key_Error extends Exception {
}

/** Parse license keys and hash them for the kh claim. */
final class Lcwp_Key {
	const ALPHABET      = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
	const BODY          = 25;
	const PURCHASE_CODE = '/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i';

	/**
	 * The pinned whitespace (keys.json "whitespace") but line breaks: dropped around
	 * a key and between its groups (a PCRE class body).
	 */
	const INSIDE = '\x{20}\x{9}\x{a0}\x{1680}\x{2000}-\x{200a}\x{202f}\x{205f}\x{3000}\x{200b}\x{feff}';

	/** The pinned line breaks (keys.json "line_breaks"): dropped around a key only. */
	const LINE_BREAKS = '\x{a}\x{d}\x{b}\x{c}\x{2028}\x{2029}';

	/**
	 * Return the Luhn mod 32 check symbol of 24 canonical symbols.
	 *
	 * @param string $payload 24 symbols.
	 * @return string
	 * @throws Lcwp_Key_Error On anything else.
	 */
	public static function check_symbol( $payload ) {
		if ( ! is_string( $payload ) || self::BODY - 1 !== strlen( $payload ) || strspn( $payload, self::ALPHABET ) !== strlen( $payload ) ) {
			throw new Lcwp_Key_Error( 'a key payload is 24 symbols of ' . self::ALPHABET );
		}
		$total  = 0;
		$length = strlen( $payload );
		for ( $position = 0; $position < $length; $position++ ) {
			$value  = strpos( self::ALPHABET, $payload[ $length - 1 - $position ] );
			$addend = $value * ( 0 === $position % 2 ? 2 : 1 );
			$total += intdiv( $addend, 32 ) + $addend % 32;
		}
		return self::ALPHABET[ ( 32 - $total % 32 ) % 32 ];
	}

	/**
	 * Return the canonical form of a typed key.
	 *
	 * @param mixed $raw What the site owner typed.
	 * @return string
	 * @throws Lcwp_Key_Error When it is not a key.
	 */
	public static function parse( $raw ) {
		if ( ! is_string( $raw ) || strlen( $raw ) > 200 ) {
			throw new Lcwp_Key_Error( 'that is not a license key' );
		}
		$stripped = self::strip( $raw );
		if ( 1 === preg_match( self::PURCHASE_CODE, $stripped ) ) {
			return strtolower( $stripped );
		}
		$compact = preg_replace( '/[' . self::INSIDE . '-]/u', '', $stripped );
		if ( null === $compact ) { // not UTF-8: refused below as non-ASCII
			$compact = str_replace( array( ' ', "\t", '-' ), '', $stripped );
		}
		if ( 1 === preg_match( '/[^\x00-\x7f]/', $compact ) ) {
			throw new Lcwp_Key_Error( 'a license key is plain ASCII' );
		}
		$compact = strtoupper( $compact );
		if ( strlen( $compact ) < self::BODY ) {
			throw new Lcwp_Key_Error( 'a license key has 25 symbols after its prefix' );
		}
		$prefix = substr( $compact, 0, -self::BODY );
		$body   = strtr( substr( $compact, -self::BODY ), 'ILO', '110' );
		if ( '' !== $prefix && 1 !== preg_match( '/^[A-Z0-9]{2,8}$/', $prefix ) ) {
			throw new Lcwp_Key_Error( 'a license key has 25 symbols after its prefix' );
		}
		if ( strspn( $body, self::ALPHABET ) !== self::BODY ) {
			throw new Lcwp_Key_Error( 'a license key contains a symbol outside its alphabet' );
		}
		if ( self::check_symbol( substr( $body, 0, -1 ) ) !== substr( $body, -1 ) ) {
			throw new Lcwp_Key_Error( 'the license key has a typo (check symbol)' );
		}
		$groups = str_split( $body, 5 );
		return implode( '-', '' === $prefix ? $groups : array_merge( array( $prefix ), $groups ) );
	}

	/**
	 * Return the kh claim a token for this canonical key carries (PROTOCOL §7).
	 *
	 * @param string $canonical A key as parse() returns it.
	 * @return string base64url of the first 16 bytes of SHA-256 over the 25-symbol body
	 *                (a purchase code: over the whole code).
	 */
	public static function hash( $canonical ) {
		$body = 1 === preg_match( self::PURCHASE_CODE, $canonical )
			? $canonical
			: substr( str_replace( '-', '', $canonical ), -self::BODY );
		return rtrim( strtr( base64_encode( substr( hash( 'sha256', $body, true ), 0, 16 ) ), '+/', '-_' ), '=' );
	}

	/**
	 * Return a key as the page shows it after activation: only the last group.
	 *
	 * @param string $canonical A canonical key.
	 * @return string
	 */
	public static function mask( $canonical ) {
		$groups = explode( '-', $canonical );
		$last   = array_pop( $groups );
		$masked = array();
		foreach ( $groups as $group ) {
			$masked[] = str_repeat( '*', strlen( $group ) );
		}
		$masked[] = $last;
		return implode( '-', $masked );
	}

	/**
	 * Strip the pinned whitespace set around a key (PROTOCOL §1, keys.json
	 * "whitespace"): more than PHP's trim(), so a key pasted with no-break spaces,
	 * a BOM or a zero-width space reads as on the server.
	 *
	 * @param string $raw Text.
	 * @return string
	 */
	private static function strip( $raw ) {
		$set      = self::INSIDE . self::LINE_BREAKS;
		$stripped = preg_replace( '/^[' . $set . ']+|[' . $set . ']+$/u', '', $raw );
		return null === $stripped ? trim( $raw ) : $stripped;
	}
}
