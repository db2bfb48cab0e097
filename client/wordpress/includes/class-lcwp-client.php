<?php
/**
 * The license logic a theme or plugin embeds: activate, re-validate, deactivate, status.
 *
 * status() is offline: it reads the stored token and verifies it again (the signature
 * once per token; see Lcwp_Token). Online calls never throw into WordPress; they
 * return an outcome array. Only a trusted, signed answer changes what the site
 * believes; a failure (network, garbage, forgery) is counted for back-off and leaves
 * the stored token in force until exp + grace. A failure is "unknown", never "invalid".
 *
 * @package Lcwp
 */

if ( ! defined( 'ABSPATH' ) && ! defined( 'LCWP_TESTING' ) ) {
	exit;
}

/** Raised by a transport that got no HTTP answer. */
class Lcwp_Transport_Error extends Exception {
}

/** One site's license for one product. */
class Lcwp_Client {
	const VALID   = 'VALID';
	const INVALID = 'INVALID';
	const UNKNOWN = 'UNKNOWN';

	/** Result codes activate and validate always sign: unsigned, they prove nothing. */
	const SIGNED_CODES = array( 'VALID', 'NOT_FOUND', 'PRODUCT_MISMATCH', 'REVOKED', 'SUSPENDED', 'EXPIRED', 'DOMAIN_NOT_ACTIVATED', 'ACTIVATION_LIMIT_REACHED' );

	/** @var array The configuration (see defaults()). */
	public $config;
	/** @var string This site's canonical domain, or '' when it has none. */
	public $domain;
	/** @var bool Whether this site is a development host (PROTOCOL §3). */
	public $development;
	/** @var Lcwp_Store */
	private $store;
	/** @var Lcwp_Token|null */
	private $verifier;
	/** @var callable */
	private $transport;
	/** @var callable */
	private $clock;
	/** @var array|null Memo of status() for the current stored state and time. */
	private $memo;

	/**
	 * Return the defaults of every configuration value.
	 *
	 * @return array
	 */
	public static function defaults() {
		return array(
			'server_url'         => '',
			'issuer'             => '',
			'product'            => '',
			'product_name'       => '',
			'keys'               => array(),
			'dev_patterns'       => array(),
			'domain'             => '',
			'version'            => '',
			'timeout'            => 5,
			'clock_skew'         => 300,
			'rollback_tolerance' => 3600,
			'refresh_interval'   => 86400,
			'refresh_margin'     => 172800,
			'backoff_initial'    => 300,
			'backoff_max'        => 86400,
			'salt'               => '',
			'transport'          => null,
			'clock'              => null,
		);
	}

	/**
	 * @param array      $config See defaults().
	 * @param Lcwp_Store $store  Where the state lives.
	 * @throws InvalidArgumentException For a configuration that cannot work.
	 */
	public function __construct( array $config, Lcwp_Store $store ) {
		$config = array_merge( self::defaults(), $config );
		if ( 1 !== preg_match( '~^https?://[^/\s]+~', (string) $config['server_url'] ) ) {
			throw new InvalidArgumentException( 'server_url must be an http(s) URL' );
		}
		foreach ( array( 'issuer', 'product', 'product_name' ) as $name ) {
			if ( ! is_string( $config[ $name ] ) || '' === trim( $config[ $name ] ) ) {
				throw new InvalidArgumentException( "$name must be a non-empty string" );
			}
		}
		$config['server_url'] = rtrim( $config['server_url'], '/' );
		$config['timeout']    = max( 1, min( 5, (float) $config['timeout'] ) ); // never stall a page for long
		$this->config         = $config;
		$this->store          = $store;
		try {
			$this->domain = Lcwp_Domain::canonical( $config['domain'] );
		} catch ( Lcwp_Domain_Error $error ) {
			$this->domain = ''; // e.g. an IDN site without ext-intl: the notice stays
		}
		$this->development = '' !== $this->domain && Lcwp_Domain::is_development( $this->domain, (array) $config['dev_patterns'] );
		if ( '' !== $this->domain ) {
			// aud is the product's slug; the configured product may be vendor/product.
			$product        = (string) $config['product'];
			$audience       = substr( $product, strrpos( '/' . $product, '/' ) );
			$this->verifier = new Lcwp_Token( (array) $config['keys'], $config['issuer'], $audience, $this->domain, (int) $config['clock_skew'] );
		}
		$this->transport = is_callable( $config['transport'] ) ? $config['transport'] : array( $this, 'wp_transport' );
		$this->clock     = is_callable( $config['clock'] ) ? $config['clock'] : 'time';
	}

	/**
	 * Return the current time in epoch seconds (the injectable clock).
	 *
	 * @return int
	 */
	public function now() {
		return (int) call_user_func( $this->clock );
	}

	/**
	 * Return the stored state (a blank one when there is none).
	 *
	 * @return array
	 */
	public function state() {
		$state = $this->store->load();
		return null === $state ? Lcwp_Store::blank() : $state;
	}

	/**
	 * Return the license status from the stored token (offline).
	 *
	 * @return array{state:string,code:string,domain:string,lic:?array,checked_at:?int,expires_at:?int,trusted_until:?int,in_grace:bool,failures:int,failing_since:?int,last_error:?string,key:?string}
	 */
	public function status() {
		$state = $this->state();
		$now   = $this->now();
		$key   = md5( serialize( $state ) ) . ':' . $now;
		if ( null !== $this->memo && $this->memo[0] === $key ) {
			return $this->memo[1];
		}
		$status     = $this->assess( $state, $now );
		$this->memo = array( $key, $status );
		return $status;
	}

	/**
	 * Whether the product is licensed on this site now.
	 *
	 * @return bool
	 */
	public function is_valid() {
		$status = $this->status();
		return self::VALID === $status['state'];
	}

	/**
	 * Return when re-validation is next due (epoch seconds; PHP_INT_MAX: never).
	 *
	 * @return int
	 */
	public function next_refresh_at() {
		$state = $this->state();
		if ( null === $state['license_key'] ) {
			return PHP_INT_MAX;
		}
		$now      = $this->now();
		$last_try = $state['checked_at'];
		if ( null !== $last_try && $last_try > $now + $this->config['rollback_tolerance'] ) {
			$last_try = null; // recorded by a clock that ran ahead; do not wait for it
		}
		$claims = $this->claims( $state );
		if ( is_array( $claims ) ) {
			$margin = min( $this->config['refresh_margin'], intdiv( $claims['exp'] - $claims['iat'], 2 ) );
			// Daily (revocations show within a day), sooner when the token would lapse first.
			$due = min( $claims['iat'] + $this->config['refresh_interval'], $claims['exp'] - $margin );
		} else {
			$due = ( null === $last_try ? 0 : $last_try ) + $this->config['refresh_interval'];
		}
		if ( $state['failures'] > 0 && null !== $last_try ) {
			$due = max( $due, $last_try + $this->backoff( $state['failures'] ) );
		}
		return $due;
	}

	/**
	 * Activate this domain with a key typed by the site owner.
	 *
	 * @param string      $raw_key     What was typed.
	 * @param string|null $environment wp_get_environment_type(), sent for the server's records.
	 * @return array{ok:bool,code:string}
	 */
	public function activate( $raw_key, $environment = null ) {
		try {
			$key = Lcwp_Key::parse( $raw_key );
		} catch ( Lcwp_Key_Error $error ) {
			return $this->outcome( false, 'INVALID_KEY_FORMAT' );
		}
		$body = array( 'license_key' => $key );
		if ( is_string( $environment ) && '' !== $environment ) {
			$body['environment'] = substr( $environment, 0, 32 );
		}
		return $this->signed_call( 'activate', $body, $key, false );
	}

	/**
	 * Ask the server again, with a fresh nonce, about the stored key.
	 *
	 * @return array{ok:bool,code:string}
	 */
	public function refresh() {
		$state = $this->state();
		if ( null === $state['license_key'] ) {
			return $this->outcome( false, 'NO_LICENSE' );
		}
		$body = array( 'license_key' => $state['license_key'] );
		if ( '' !== (string) $this->config['version'] ) {
			$body['version'] = substr( (string) $this->config['version'], 0, 64 );
		}
		return $this->signed_call( 'validate', $body, $state['license_key'], true );
	}

	/**
	 * Free this domain's seat on the server and forget the key here.
	 *
	 * @return array{ok:bool,code:string}
	 */
	public function deactivate() {
		$state = $this->state();
		if ( null === $state['license_key'] ) {
			return $this->outcome( false, 'NO_LICENSE' );
		}
		$body = array(
			'license_key' => $state['license_key'],
			'domain'      => $this->domain,
		);
		try {
			list( $status, $data ) = $this->post( 'deactivate', $body );
		} catch ( Lcwp_Transport_Error $error ) {
			return $this->outcome( false, 'NETWORK_ERROR' );
		} catch ( UnexpectedValueException $error ) {
			return $this->outcome( false, 'BAD_ANSWER' );
		}
		$freed = 200 === $status && isset( $data['deactivated'] ) && true === $data['deactivated'];
		$gone  = 404 === $status && isset( $data['code'] ) && in_array( $data['code'], array( 'DOMAIN_NOT_ACTIVATED', 'NOT_FOUND' ), true );
		if ( ! ( $freed || $gone ) ) {
			return $this->outcome( false, self::refusal( $status, $data ) );
		}
		$blank                = Lcwp_Store::blank();
		$blank['server_time'] = $state['server_time'];
		$blank['last_error']  = 'DEACTIVATED';
		$this->store->save( $blank );
		return $this->outcome( true, 'DEACTIVATED' );
	}

	/**
	 * Refresh when due (near expiry, at most daily, backing off); else null.
	 *
	 * @return array|null
	 */
	public function revalidate_if_due() {
		try {
			return $this->now() >= $this->next_refresh_at() ? $this->refresh() : null;
		} catch ( Throwable $error ) {
			return null; // never let a bug here reach a cron run or a page
		}
	}

	/**
	 * The default transport: wp_remote_post with a hard timeout and no redirects.
	 *
	 * @param string $url     Endpoint URL.
	 * @param string $body    JSON body.
	 * @param float  $timeout Seconds.
	 * @return array{0:int,1:string} Status and body.
	 * @throws Lcwp_Transport_Error When no HTTP answer came.
	 */
	public function wp_transport( $url, $body, $timeout ) {
		$response = wp_remote_post(
			$url,
			array(
				'timeout'             => $timeout,
				'redirection'         => 0,
				'body'                => $body,
				'headers'             => array(
					'Content-Type' => 'application/json',
					'Accept'       => 'application/json',
				),
				'limit_response_size' => 65536,
				'user-agent'          => 'license-client-wordpress/1.0',
			)
		);
		if ( is_wp_error( $response ) ) {
			throw new Lcwp_Transport_Error( $response->get_error_message() );
		}
		return array( (int) wp_remote_retrieve_response_code( $response ), (string) wp_remote_retrieve_body( $response ) );
	}

	/**
	 * POST JSON to /v1/<endpoint>; return the status and the answer's JSON object.
	 *
	 * @param string $endpoint activate, validate, deactivate, updates/check.
	 * @param array  $body     Fields.
	 * @return array{0:int,1:array}
	 * @throws Lcwp_Transport_Error When no answer came.
	 * @throws UnexpectedValueException When the answer is not a JSON object.
	 */
	public function post( $endpoint, array $body ) {
		$url = $this->config['server_url'] . '/v1/' . $endpoint;
		try {
			$answer = call_user_func( $this->transport, $url, self::json( $body ), $this->config['timeout'] );
		} catch ( Lcwp_Transport_Error $error ) {
			throw $error;
		} catch ( Throwable $error ) {
			throw new Lcwp_Transport_Error( 'the transport failed: ' . $error->getMessage() );
		}
		if ( ! is_array( $answer ) || ! isset( $answer[0], $answer[1] ) || ! is_int( $answer[0] ) || ! is_string( $answer[1] ) ) {
			throw new Lcwp_Transport_Error( 'the transport gave no answer' );
		}
		$data = json_decode( $answer[1], false, 32 );
		if ( ! $data instanceof stdClass ) {
			throw new UnexpectedValueException( 'the answer is not a JSON object' );
		}
		return array( $answer[0], json_decode( $answer[1], true, 32 ) );
	}

	/**
	 * JSON-encode with WordPress's wp_json_encode when loaded, else json_encode.
	 *
	 * @param mixed $data Data.
	 * @return string
	 */
	public static function json( $data ) {
		$json = function_exists( 'wp_json_encode' ) ? wp_json_encode( $data ) : json_encode( $data );
		return false === $json ? '{}' : $json;
	}

	/**
	 * Return the kh this site expects, for the stored or given key.
	 *
	 * @param string|null $key Canonical key.
	 * @return string|null
	 */
	public static function key_hash( $key ) {
		return null === $key ? null : Lcwp_Key::hash( $key );
	}

	/**
	 * Call activate or validate and keep the answer if (and only if) it is trusted.
	 *
	 * @param string $endpoint      activate or validate.
	 * @param array  $body          Fields.
	 * @param string $key           Canonical key.
	 * @param bool   $count_failure Whether a failure counts toward back-off.
	 * @return array{ok:bool,code:string}
	 */
	private function signed_call( $endpoint, array $body, $key, $count_failure ) {
		if ( null === $this->verifier ) {
			return $this->outcome( false, 'DOMAIN_UNSUPPORTED' );
		}
		$nonce = Lcwp_Token::b64url_encode( random_bytes( 18 ) );
		$body += array(
			'domain'  => $this->domain,
			'product' => $this->config['product'],
			'nonce'   => $nonce,
		);
		$now  = $this->now();
		$code = null;
		$why  = null;
		try {
			list( $status, $data ) = $this->post( $endpoint, $body );
			if ( ! isset( $data['token'] ) || ! is_string( $data['token'] ) ) {
				$code = self::refusal( $status, $data );
			} else {
				$token  = $data['token'];
				$claims = $this->verifier->verify( $token, $now, $nonce, self::key_hash( $key ) );
			}
		} catch ( Lcwp_Transport_Error $error ) {
			$code = 'NETWORK_ERROR';
		} catch ( UnexpectedValueException $error ) {
			$code = 'BAD_ANSWER';
		} catch ( Lcwp_Token_Error $error ) {
			$code = in_array( $error->reason, array( 'expired', 'future' ), true ) ? ( 'expired' === $error->reason ? 'TOKEN_EXPIRED' : 'CLOCK_ROLLBACK' ) : 'UNTRUSTED_ANSWER';
			$why  = $error->reason; // which check failed, for the page to say what to look at
		} catch ( Throwable $error ) {
			$code = 'BAD_ANSWER';
		}
		if ( null !== $code ) {
			if ( $count_failure ) {
				$this->count_failure( $code, $now );
			}
			$outcome = $this->outcome( false, $code );
			if ( null !== $why ) {
				$outcome['why'] = $why;
			}
			return $outcome;
		}
		$old   = $this->state();
		$state = array(
			'version'       => 1,
			'license_key'   => $key,
			'token'         => $token,
			'verified'      => $this->digest( $token ),
			'domain'        => $this->domain,
			'server_time'   => max( $old['server_time'], $claims['iat'] ),
			'checked_at'    => $now,
			'failures'      => 0,
			'failing_since' => null,
			'last_error'    => null,
		);
		if ( ! $this->store->save( $state ) ) {
			return $this->outcome( false, 'STORE_ERROR' );
		}
		return $this->outcome( $claims['valid'], $claims['code'] );
	}

	/**
	 * Return the code for an answer without a usable token.
	 *
	 * @param int   $status HTTP status.
	 * @param array $data   The answer.
	 * @return string
	 */
	private static function refusal( $status, array $data ) {
		$code = isset( $data['code'] ) ? $data['code'] : null;
		if ( in_array( $code, self::SIGNED_CODES, true ) ) {
			return 'UNTRUSTED_ANSWER'; // a result without its signature proves nothing
		}
		if ( $status >= 400 && is_string( $code ) && 1 === preg_match( '/^[A-Z][A-Z0-9_]{1,47}$/', $code ) ) {
			return 'RATE_LIMITED' === $code || 'SERVICE_UNAVAILABLE' === $code || $status >= 500 ? 'NETWORK_ERROR' : $code;
		}
		return $status >= 500 ? 'NETWORK_ERROR' : 'BAD_ANSWER';
	}

	/**
	 * Record a failed attempt (for back-off and "unreachable since").
	 *
	 * @param string $code Why it failed.
	 * @param int    $now  When.
	 */
	private function count_failure( $code, $now ) {
		$state = $this->state();
		if ( null === $state['license_key'] ) {
			return;
		}
		$state['checked_at']    = $now;
		$state['failures']     += 1;
		$state['failing_since'] = null === $state['failing_since'] ? $now : $state['failing_since'];
		$state['last_error']    = $code;
		$this->store->save( $state );
	}

	/**
	 * Return the back-off delay after a number of failures.
	 *
	 * @param int $failures Failures since the last trusted answer.
	 * @return int
	 */
	private function backoff( $failures ) {
		$delay = $this->config['backoff_initial'] * ( 2 ** min( $failures - 1, 20 ) );
		return (int) min( $delay, $this->config['backoff_max'] );
	}

	/**
	 * Return an outcome with the status after the call.
	 *
	 * @param bool   $ok   Whether the call reached its aim.
	 * @param string $code The result code.
	 * @return array
	 */
	private function outcome( $ok, $code ) {
		$this->memo = null;
		return array(
			'ok'     => (bool) $ok,
			'code'   => $code,
			'status' => $this->status(),
		);
	}

	/**
	 * The keyed digest remembering that a token's signature verified (slow sodium_compat).
	 *
	 * @param string $token The token.
	 * @return string
	 */
	private function digest( $token ) {
		return hash_hmac( 'sha256', $token . '|' . self::json( $this->config['keys'] ), 'lcwp-verified|' . $this->config['salt'] );
	}

	/**
	 * Verify the stored token without time checks: its claims, or the reason it fails.
	 *
	 * @param array $state The stored state.
	 * @return array|Lcwp_Token_Error|null
	 */
	private function claims( array $state ) {
		if ( null === $state['token'] || null === $this->verifier ) {
			return null;
		}
		try {
			$remembered = Lcwp_Token::native_sodium() ? null : $state['verified'];
			return $this->verifier->verify( $state['token'], null, null, self::key_hash( $state['license_key'] ), $remembered === $this->digest( $state['token'] ) );
		} catch ( Lcwp_Token_Error $error ) {
			return $error;
		}
	}

	/**
	 * Decide the status from the state and its verified claims at a time.
	 *
	 * @param array $state The stored state.
	 * @param int   $now   Epoch seconds.
	 * @return array
	 */
	private function assess( array $state, $now ) {
		$status = array(
			'state'         => self::UNKNOWN,
			'code'          => 'NO_LICENSE',
			'domain'        => $this->domain,
			'lic'           => null,
			'checked_at'    => null,
			'expires_at'    => null,
			'trusted_until' => null,
			'in_grace'      => false,
			'failures'      => $state['failures'],
			'failing_since' => $state['failing_since'],
			'last_error'    => $state['last_error'],
			'key'           => $state['license_key'],
		);
		if ( '' === $this->domain ) {
			$status['code'] = 'DOMAIN_UNSUPPORTED';
			return $status;
		}
		if ( null === $state['token'] ) {
			$status['code'] = 'DEACTIVATED' === $state['last_error'] ? 'DEACTIVATED' : 'NO_LICENSE';
			return $status;
		}
		if ( null !== $state['domain'] && $state['domain'] !== $this->domain ) {
			$status['code'] = 'DOMAIN_CHANGED'; // a copied site or a staging clone
			return $status;
		}
		$claims = $this->claims( $state );
		if ( ! is_array( $claims ) ) {
			$status['code'] = 'UNTRUSTED_ANSWER';
			return $status;
		}
		$status['lic']           = $claims['lic'];
		$status['checked_at']    = $claims['iat'];
		$status['expires_at']    = $claims['exp'];
		$status['trusted_until'] = $claims['exp'] + $claims['grace'];
		$trusted_from            = max( $state['server_time'] - $this->config['rollback_tolerance'], $claims['iat'] - $this->config['clock_skew'] );
		if ( $now < $trusted_from ) {
			$status['code'] = 'CLOCK_ROLLBACK';
			return $status;
		}
		if ( $now > $status['trusted_until'] ) {
			$status['code'] = 'TOKEN_EXPIRED';
			return $status;
		}
		$status['state']    = $claims['valid'] ? self::VALID : self::INVALID;
		$status['code']     = $claims['code'];
		$status['in_grace'] = $now > $claims['exp'];
		return $status;
	}
}
