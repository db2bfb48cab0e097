<?php
/**
 * Verify domain tokens against pinned keys (PROTOCOL §1); every failure throws.
 *
 * A token is trusted only when: alg is EdDSA (nothing else, ever); typ is
 * license+jwt; kid names a pinned key and the Ed25519 signature over the received
 * "header.payload" bytes verifies under it; iss, aud and dom equal the configured
 * issuer, product and canonical domain; nonce equals the one sent (fresh answers);
 * kh, when present, equals the hash of the key this site holds (PROTOCOL §7); iat is
 * at most the skew ahead of the clock; and now <= exp + grace.
 *
 * @package Lcwp
 */

if ( ! defined( 'ABSPATH' ) && ! defined( 'LCWP_TESTING' ) ) {
	exit;
}

/** Raised for a token that is not to be trusted; $reason says why, for logs and tests. */
class Lcwp_Token_Error extends Exception {
	/** @var string One of malformed, algorithm, key_unknown, signature, claim_<name>, expired, future, unsupported. */
	public $reason;

	/**
	 * @param string $reason  Machine-readable reason.
	 * @param string $message Human detail.
	 */
	public function __construct( $reason, $message ) {
		parent::__construct( $message );
		$this->reason = $reason;
	}
}

/** The verifier of one issuer, product and domain under pinned keys. */
final class Lcwp_Token {
	const ALGORITHM = 'EdDSA';
	const TYPE      = 'license+jwt';
	const MAX_TOKEN = 16384;

	/** @var array<string,string> Signatures already checked this request: sha256 => true. */
	private static $checked = array();

	/** @var array<string,string> kid => 32-byte public key. */
	private $keys;
	/** @var string */
	private $issuer;
	/** @var string */
	private $audience;
	/** @var string */
	private $domain;
	/** @var int */
	private $skew;

	/**
	 * @param array<string,string> $keys     kid => base64url (no padding) Ed25519 public key ("x" of the JWK).
	 * @param string               $issuer   The vendor's iss.
	 * @param string               $audience The product slug.
	 * @param string               $domain   This site's canonical domain.
	 * @param int                  $skew     How far iat may be ahead of the clock.
	 * @throws InvalidArgumentException For a key that is not 32 bytes.
	 */
	public function __construct( array $keys, $issuer, $audience, $domain, $skew = 300 ) {
		$this->keys = array();
		foreach ( $keys as $kid => $x ) {
			$raw = self::b64url_decode( (string) $x );
			if ( null === $raw || 32 !== strlen( $raw ) ) {
				throw new InvalidArgumentException( 'a pinned key is 32 bytes of base64url' );
			}
			$this->keys[ (string) $kid ] = $raw;
		}
		if ( empty( $this->keys ) ) {
			throw new InvalidArgumentException( 'pin at least one vendor key' );
		}
		$this->issuer   = (string) $issuer;
		$this->audience = (string) $audience;
		$this->domain   = (string) $domain;
		$this->skew     = (int) $skew;
	}

	/**
	 * Verify a token; return its claims.
	 *
	 * @param mixed       $token    The compact JWT as received.
	 * @param int|null    $now      Epoch seconds; null skips the time checks.
	 * @param string|null $nonce    The nonce sent (fresh answers), or null.
	 * @param string|null $key_hash The kh of the key this site holds, or null.
	 * @param bool        $remembered The caller holds a keyed proof that this exact token verified before.
	 * @return array{dom:string,valid:bool,code:string,iat:int,exp:int,grace:int,nonce:?string,sub:?string,lic:?array,kh:?string}
	 * @throws Lcwp_Token_Error When the token is not to be trusted.
	 */
	public function verify( $token, $now = null, $nonce = null, $key_hash = null, $remembered = false ) {
		if ( ! is_string( $token ) || '' === $token || strlen( $token ) > self::MAX_TOKEN ) {
			throw new Lcwp_Token_Error( 'malformed', 'a token is a non-empty string of bounded length' );
		}
		$parts = explode( '.', $token );
		if ( 3 !== count( $parts ) ) {
			throw new Lcwp_Token_Error( 'malformed', 'a token has three parts' );
		}
		$header = self::json_part( $parts[0] );
		if ( ! isset( $header['alg'] ) || self::ALGORITHM !== $header['alg'] ) {
			throw new Lcwp_Token_Error( 'algorithm', 'alg is not EdDSA' );
		}
		if ( ! isset( $header['typ'] ) || self::TYPE !== $header['typ'] ) {
			throw new Lcwp_Token_Error( 'claim_typ', 'typ is not license+jwt' );
		}
		$kid = isset( $header['kid'] ) ? $header['kid'] : null;
		if ( ! is_string( $kid ) || ! isset( $this->keys[ $kid ] ) ) {
			throw new Lcwp_Token_Error( 'key_unknown', 'kid is not a pinned key' );
		}
		$signature = self::b64url_decode( $parts[2] );
		if ( null === $signature || 64 !== strlen( $signature ) ) {
			throw new Lcwp_Token_Error( 'signature', 'the signature is not 64 bytes' );
		}
		if ( true !== $remembered ) {
			$this->check_signature( $parts[0] . '.' . $parts[1], $signature, $this->keys[ $kid ] );
		}
		$claims = self::parse_claims( self::json_part( $parts[1] ) );
		$this->check_bindings( $claims, $nonce, $key_hash );
		if ( null !== $now ) {
			self::check_time( $claims, (int) $now, $this->skew );
		}
		return $claims;
	}

	/**
	 * Throw unless iat - skew <= now <= exp + grace.
	 *
	 * @param array $claims Parsed claims.
	 * @param int   $now    Epoch seconds.
	 * @param int   $skew   Allowed clock skew.
	 * @throws Lcwp_Token_Error When outside.
	 */
	public static function check_time( array $claims, $now, $skew ) {
		if ( $claims['iat'] > $now + $skew ) {
			throw new Lcwp_Token_Error( 'future', 'the token was issued in the future' );
		}
		if ( $now > $claims['exp'] + $claims['grace'] ) {
			throw new Lcwp_Token_Error( 'expired', 'the token is past exp + grace' );
		}
	}

	/**
	 * Decode base64url without padding, strictly: null for anything non-canonical.
	 *
	 * @param string $text Encoded text.
	 * @return string|null
	 */
	public static function b64url_decode( $text ) {
		if ( 1 !== preg_match( '/^[A-Za-z0-9_-]*$/', $text ) || 1 === strlen( $text ) % 4 ) {
			return null;
		}
		$raw = base64_decode( strtr( $text, '-_', '+/' ), true );
		if ( false === $raw || self::b64url_encode( $raw ) !== $text ) {
			return null; // non-zero trailing bits: another encoding of the same bytes
		}
		return $raw;
	}

	/**
	 * Encode base64url without padding.
	 *
	 * @param string $raw Bytes.
	 * @return string
	 */
	public static function b64url_encode( $raw ) {
		return rtrim( strtr( base64_encode( $raw ), '+/', '-_' ), '=' );
	}

	/**
	 * Whether Ed25519 runs natively (ext-sodium) rather than through sodium_compat.
	 *
	 * @return bool
	 */
	public static function native_sodium() {
		return function_exists( 'sodium_crypto_sign_verify_detached' ) && extension_loaded( 'sodium' );
	}

	/**
	 * Verify an Ed25519 signature once per request and token; throw if it fails.
	 *
	 * @param string $signed    The received header.payload bytes.
	 * @param string $signature 64 bytes.
	 * @param string $key       32 bytes.
	 * @throws Lcwp_Token_Error When it does not verify or Ed25519 is unavailable.
	 */
	private function check_signature( $signed, $signature, $key ) {
		$memo = hash( 'sha256', $key . $signature . $signed );
		if ( isset( self::$checked[ $memo ] ) ) {
			return;
		}
		$verify = self::load_sodium();
		try {
			$ok = call_user_func( $verify, $signature, $signed, $key );
		} catch ( Throwable $error ) {
			$ok = false;
		}
		if ( true !== $ok ) {
			throw new Lcwp_Token_Error( 'signature', 'the signature does not verify' );
		}
		self::$checked[ $memo ] = true;
	}

	/**
	 * Return an Ed25519 verify callable: native, else WordPress's bundled sodium_compat.
	 *
	 * @return callable
	 * @throws Lcwp_Token_Error When neither is there.
	 */
	private static function load_sodium() {
		if ( function_exists( 'sodium_crypto_sign_verify_detached' ) ) {
			return 'sodium_crypto_sign_verify_detached';
		}
		if ( ! class_exists( 'ParagonIE_Sodium_Compat' ) && defined( 'ABSPATH' ) && defined( 'WPINC' ) && is_readable( ABSPATH . WPINC . '/sodium_compat/autoload.php' ) ) {
			require_once ABSPATH . WPINC . '/sodium_compat/autoload.php';
		}
		if ( function_exists( 'sodium_crypto_sign_verify_detached' ) ) {
			return 'sodium_crypto_sign_verify_detached'; // the polyfill
		}
		if ( class_exists( 'ParagonIE_Sodium_Compat' ) ) {
			return array( 'ParagonIE_Sodium_Compat', 'crypto_sign_verify_detached' );
		}
		throw new Lcwp_Token_Error( 'unsupported', 'no Ed25519 implementation (ext-sodium or sodium_compat)' );
	}

	/**
	 * Decode one JSON-object part of the token.
	 *
	 * @param string $part base64url text.
	 * @return array
	 * @throws Lcwp_Token_Error When it is not a JSON object.
	 */
	private static function json_part( $part ) {
		$raw = self::b64url_decode( $part );
		if ( null === $raw ) {
			throw new Lcwp_Token_Error( 'malformed', 'a token part is not base64url' );
		}
		$data = json_decode( $raw, false, 16 );
		if ( ! $data instanceof stdClass ) {
			throw new Lcwp_Token_Error( 'malformed', 'a token part is not a JSON object' );
		}
		return json_decode( $raw, true, 16 );
	}

	/**
	 * Check the types of the claims and return them normalised.
	 *
	 * @param array $claims Decoded payload.
	 * @return array
	 * @throws Lcwp_Token_Error For a missing or mistyped claim.
	 */
	private static function parse_claims( array $claims ) {
		foreach ( array( 'iss', 'aud', 'dom', 'valid', 'code', 'iat', 'exp' ) as $name ) {
			if ( ! array_key_exists( $name, $claims ) ) {
				throw new Lcwp_Token_Error( 'malformed', "claim $name is required" );
			}
		}
		if ( ! is_bool( $claims['valid'] ) || ! is_string( $claims['code'] ) ) {
			throw new Lcwp_Token_Error( 'malformed', 'claims valid and code must be a bool and a string' );
		}
		if ( $claims['valid'] !== ( 'VALID' === $claims['code'] ) ) {
			throw new Lcwp_Token_Error( 'malformed', 'claims valid and code disagree' );
		}
		$grace = array_key_exists( 'grace', $claims ) ? $claims['grace'] : 0;
		foreach ( array( $claims['iat'], $claims['exp'], $grace ) as $number ) {
			if ( ! is_int( $number ) || $number < 0 ) {
				throw new Lcwp_Token_Error( 'malformed', 'iat, exp and grace are non-negative integers' );
			}
		}
		foreach ( array( 'nonce', 'sub', 'kh' ) as $name ) {
			if ( isset( $claims[ $name ] ) && ! is_string( $claims[ $name ] ) ) {
				throw new Lcwp_Token_Error( 'malformed', "claim $name must be a string" );
			}
		}
		return array(
			'iss'   => $claims['iss'],
			'aud'   => $claims['aud'],
			'dom'   => $claims['dom'],
			'valid' => $claims['valid'],
			'code'  => $claims['code'],
			'iat'   => $claims['iat'],
			'exp'   => $claims['exp'],
			'grace' => $grace,
			'nonce' => isset( $claims['nonce'] ) ? $claims['nonce'] : null,
			'sub'   => isset( $claims['sub'] ) ? $claims['sub'] : null,
			'kh'    => isset( $claims['kh'] ) ? $claims['kh'] : null,
			'lic'   => self::parse_license( isset( $claims['lic'] ) ? $claims['lic'] : null ),
		);
	}

	/**
	 * Check the lic claim's shape.
	 *
	 * @param mixed $lic The claim.
	 * @return array|null
	 * @throws Lcwp_Token_Error When mistyped.
	 */
	private static function parse_license( $lic ) {
		if ( null === $lic ) {
			return null;
		}
		if ( ! is_array( $lic ) || ( array() !== $lic && array_keys( $lic ) === range( 0, count( $lic ) - 1 ) ) ) {
			throw new Lcwp_Token_Error( 'malformed', 'claim lic must be an object' );
		}
		foreach ( array( 'max_domains', 'active_domains' ) as $name ) {
			if ( isset( $lic[ $name ] ) && ! is_int( $lic[ $name ] ) ) {
				throw new Lcwp_Token_Error( 'malformed', 'lic domain counts must be integers' );
			}
		}
		foreach ( array( 'status', 'expires_at', 'updates_until' ) as $name ) {
			if ( isset( $lic[ $name ] ) && ! is_string( $lic[ $name ] ) ) {
				throw new Lcwp_Token_Error( 'malformed', "lic.$name must be a string" );
			}
		}
		return array(
			'status'         => isset( $lic['status'] ) ? $lic['status'] : '',
			'expires_at'     => isset( $lic['expires_at'] ) ? $lic['expires_at'] : null,
			'updates_until'  => isset( $lic['updates_until'] ) ? $lic['updates_until'] : null,
			'max_domains'    => isset( $lic['max_domains'] ) ? $lic['max_domains'] : null,
			'active_domains' => isset( $lic['active_domains'] ) ? $lic['active_domains'] : null,
		);
	}

	/**
	 * Check iss, aud, dom, nonce and kh.
	 *
	 * @param array       $claims   Parsed claims.
	 * @param string|null $nonce    Expected nonce or null.
	 * @param string|null $key_hash Expected kh or null.
	 * @throws Lcwp_Token_Error On a mismatch.
	 */
	private function check_bindings( array $claims, $nonce, $key_hash ) {
		$expected = array(
			'iss' => $this->issuer,
			'aud' => $this->audience,
			'dom' => $this->domain,
		);
		foreach ( $expected as $name => $value ) {
			if ( $claims[ $name ] !== $value ) {
				throw new Lcwp_Token_Error( "claim_$name", "$name does not match" );
			}
		}
		if ( null !== $nonce && $claims['nonce'] !== $nonce ) {
			throw new Lcwp_Token_Error( 'claim_nonce', 'the answer is not for this request (nonce)' );
		}
		// Protocol 2 servers bind answers to the key; version 1 servers send no kh.
		if ( null !== $key_hash && null !== $claims['kh'] && ! hash_equals( $key_hash, $claims['kh'] ) ) {
			throw new Lcwp_Token_Error( 'claim_kh', 'the answer is for another license key (kh)' );
		}
	}
}
