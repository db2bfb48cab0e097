<?php
/**
 * PHPUnit bootstrap: the unbuilt client (prefix Lcwp) outside WordPress, and a fake server.
 */

define( 'LCWP_TESTING', true );
$client_dir = dirname( __DIR__, 3 ) . '/client/wordpress/includes/';
foreach ( array( 'domain', 'key', 'token', 'store', 'client' ) as $part ) {
	require_once $client_dir . "class-lcwp-$part.php";
}

/** A clock tests move by hand. */
final class Test_Clock {
	/** @var int */
	public $now;

	public function __construct( $now = 1767225600 ) {
		$this->now = $now;
	}

	public function __invoke() {
		return $this->now;
	}
}

/**
 * A license server in memory that signs with the test-only key of tests/vectors/token.json;
 * $handler may replace its answers with forgeries.
 */
final class Fake_Server {
	const KID     = 'test-kid';
	const ISSUER  = 'acme-themes';
	const PRODUCT = 'jannah';
	const DOMAIN  = 'shop-one.com';

	/** @var Test_Clock */
	public $clock;
	/** @var string The code the server answers. */
	public $code = 'VALID';
	/** @var bool Include kh in tokens. */
	public $with_kh = true;
	/** @var bool Simulate an outage. */
	public $down = false;
	/** @var callable|null fn(Fake_Server, array $body): array{0:int,1:string} */
	public $handler;
	/** @var array[] Bodies received. */
	public $received = array();
	/** @var string */
	public static $secret;
	/** @var string */
	public static $public;

	public function __construct( Test_Clock $clock ) {
		$this->clock = $clock;
		if ( null === self::$secret ) {
			$vector       = json_decode( file_get_contents( dirname( __DIR__, 2 ) . '/vectors/token.json' ), true );
			$seed         = Lcwp_Token::b64url_decode( $vector['private_key_TEST_ONLY']['seed_b64url'] );
			$pair         = sodium_crypto_sign_seed_keypair( $seed );
			self::$secret = sodium_crypto_sign_secretkey( $pair );
			self::$public = sodium_crypto_sign_publickey( $pair );
		}
	}

	/** The pinned keys a client of this server holds. */
	public static function keys() {
		return array( self::KID => Lcwp_Token::b64url_encode( self::$public ) );
	}

	/** Claims the honest server would sign for a request body. */
	public function claims( array $body, array $changes = array() ) {
		$claims = array(
			'iss'   => self::ISSUER,
			'aud'   => self::PRODUCT,
			'sub'   => 'lic-1',
			'dom'   => isset( $body['domain'] ) ? $body['domain'] : self::DOMAIN,
			'valid' => 'VALID' === $this->code,
			'code'  => $this->code,
			'iat'   => $this->clock->now,
			'exp'   => $this->clock->now + 7 * 86400,
			'grace' => 14 * 86400,
			'lic'   => array(
				'status'         => 'active',
				'expires_at'     => '2027-06-01T00:00:00Z',
				'updates_until'  => null,
				'max_domains'    => 1,
				'active_domains' => 1,
			),
		);
		if ( isset( $body['nonce'] ) ) {
			$claims['nonce'] = $body['nonce'];
		}
		if ( $this->with_kh && isset( $body['license_key'] ) ) {
			$claims['kh'] = Lcwp_Key::hash( $body['license_key'] );
		}
		return array_merge( $claims, $changes );
	}

	/** Sign claims as a compact JWT. */
	public static function sign( array $claims, array $header = array(), $secret = null ) {
		$header  = array_merge( array( 'alg' => 'EdDSA', 'typ' => 'license+jwt', 'kid' => self::KID ), $header );
		$signing = Lcwp_Token::b64url_encode( json_encode( $header ) ) . '.' . Lcwp_Token::b64url_encode( json_encode( $claims ) );
		return $signing . '.' . Lcwp_Token::b64url_encode( sodium_crypto_sign_detached( $signing, null === $secret ? self::$secret : $secret ) );
	}

	/** The answer JSON around a token. */
	public function answer( array $body, $token ) {
		$claims = json_decode( Lcwp_Token::b64url_decode( explode( '.', $token )[1] ), true );
		$status = 'ACTIVATION_LIMIT_REACHED' === $this->code ? 409 : 200;
		return array(
			$status,
			json_encode(
				array(
					'valid' => is_array( $claims ) && ! empty( $claims['valid'] ),
					'code'  => $this->code,
					'token' => $token,
				)
			),
		);
	}

	/** The transport callable a client is given. */
	public function __invoke( $url, $json, $timeout ) {
		if ( $this->down ) {
			throw new Lcwp_Transport_Error( 'connection refused (simulated outage)' );
		}
		$body             = json_decode( $json, true );
		$this->received[] = array( $url, $body );
		if ( null !== $this->handler ) {
			return call_user_func( $this->handler, $this, $body );
		}
		if ( '/deactivate' === substr( $url, -11 ) ) {
			return array( 200, '{"deactivated": true}' );
		}
		return $this->answer( $body, self::sign( $this->claims( $body ) ) );
	}

	/** A client of this server for a site at $home. */
	public function client( $home = 'https://www.shop-one.com/', ?Lcwp_Store $store = null ) {
		return new Lcwp_Client(
			array(
				'server_url'   => 'https://licenses.example.org',
				'issuer'       => self::ISSUER,
				'product'      => self::PRODUCT,
				'product_name' => 'Jannah',
				'keys'         => self::keys(),
				'domain'       => $home,
				'transport'    => $this,
				'clock'        => $this->clock,
				'salt'         => 'test-salt',
			),
			null === $store ? new Lcwp_Memory_Store() : $store
		);
	}
}

const TEST_KEY   = 'JAN-7K3M9-PQRX2-WY4T8-VH6N0-J1G5P';
