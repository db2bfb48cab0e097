<?php
/**
 * A hostile server: nothing it can send yields VALID, and nothing throws into WordPress.
 *
 * The same forgeries as the Python client's tests/client/test_hostile.py, each tried
 * on a fresh site activating (it must stay UNKNOWN) and on a site holding a genuine
 * signed REVOKED answer (it must stay INVALID). The honest control proves the harness
 * reaches VALID when the answer is genuine, so the refusals mean something.
 */

use PHPUnit\Framework\TestCase;

final class HostileTest extends TestCase {
	private static function raw( $status, $body ) {
		return function () use ( $status, $body ) {
			return array( $status, $body );
		};
	}

	private static function token_is( callable $make ) {
		return function ( Fake_Server $server, array $body ) use ( $make ) {
			return $server->answer( $body, $make( $server, $body ) );
		};
	}

	private static function signed( array $changes ) {
		return self::token_is(
			function ( Fake_Server $server, array $body ) use ( $changes ) {
				return Fake_Server::sign( $server->claims( $body, $changes ) );
			}
		);
	}

	private static function compact( array $header, array $claims, $signature ) {
		return Lcwp_Token::b64url_encode( json_encode( $header ) ) . '.' . Lcwp_Token::b64url_encode( json_encode( $claims ) ) . '.' . Lcwp_Token::b64url_encode( $signature );
	}

	private static function hs256( array $claims, $secret ) {
		$signing = Lcwp_Token::b64url_encode( json_encode( array( 'alg' => 'HS256', 'typ' => 'license+jwt', 'kid' => Fake_Server::KID ) ) ) . '.' . Lcwp_Token::b64url_encode( json_encode( $claims ) );
		return $signing . '.' . Lcwp_Token::b64url_encode( hash_hmac( 'sha256', $signing, $secret, true ) );
	}

	/** @return array<string,callable> */
	public static function forgeries() {
		$other  = sodium_crypto_sign_keypair();
		$oother = sodium_crypto_sign_secretkey( $other );
		$pem    = "-----BEGIN PUBLIC KEY-----\n" . base64_encode( "\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00" . Fake_Server::$public ) . "\n-----END PUBLIC KEY-----\n";
		return array(
			'unsigned answer'                     => self::raw( 200, '{"valid": true, "code": "VALID", "token": null}' ),
			'no token field'                      => self::raw( 200, '{"valid": true, "code": "VALID"}' ),
			'forged signature'                    => self::token_is(
				function ( $s, $b ) {
					$parts    = explode( '.', Fake_Server::sign( $s->claims( $b ) ) );
					$raw      = Lcwp_Token::b64url_decode( $parts[2] );
					$raw[0]   = chr( ord( $raw[0] ) ^ 1 );
					$parts[2] = Lcwp_Token::b64url_encode( $raw );
					return implode( '.', $parts );
				}
			),
			'signature of another payload'        => self::token_is(
				function ( $s, $b ) {
					$genuine = explode( '.', Fake_Server::sign( $s->claims( $b, array( 'valid' => false, 'code' => 'REVOKED' ) ) ) );
					return $genuine[0] . '.' . Lcwp_Token::b64url_encode( json_encode( $s->claims( $b ) ) ) . '.' . $genuine[2];
				}
			),
			'another key under the pinned kid'    => self::token_is(
				function ( $s, $b ) use ( $oother ) {
					return Fake_Server::sign( $s->claims( $b ), array(), $oother );
				}
			),
			"another vendor's key"                => self::token_is(
				function ( $s, $b ) use ( $oother ) {
					return Fake_Server::sign( $s->claims( $b ), array( 'kid' => 'other-vendor-kid' ), $oother );
				}
			),
			'replayed old answer (other nonce)'   => self::token_is(
				function ( $s, $b ) {
					return Fake_Server::sign( $s->claims( array_merge( $b, array( 'nonce' => 'an-earlier-nonce' ) ) ) );
				}
			),
			'answer without the nonce'            => self::token_is(
				function ( $s, $b ) {
					$claims = $s->claims( $b );
					unset( $claims['nonce'] );
					return Fake_Server::sign( $claims );
				}
			),
			'answer for another domain'           => self::signed( array( 'dom' => 'other-site.com' ) ),
			'answer for another product'          => self::signed( array( 'aud' => 'other-theme' ) ),
			'answer from another issuer'          => self::signed( array( 'iss' => 'evil-vendor' ) ),
			'answer for another license key (kh)' => self::signed( array( 'kh' => Lcwp_Key::hash( 'ABC-00000-00000-00000-00000-00000' ) ) ),
			'kh of the wrong type'                => self::signed( array( 'kh' => 12345 ) ),
			'typ JWT'                             => self::token_is(
				function ( $s, $b ) {
					return Fake_Server::sign( $s->claims( $b ), array( 'typ' => 'JWT' ) );
				}
			),
			'alg none'                            => self::token_is(
				function ( $s, $b ) {
					return self::compact( array( 'alg' => 'none', 'typ' => 'license+jwt', 'kid' => Fake_Server::KID ), $s->claims( $b ), '' );
				}
			),
			'alg None, signature kept'            => self::token_is(
				function ( $s, $b ) {
					return self::compact( array( 'alg' => 'None', 'typ' => 'license+jwt', 'kid' => Fake_Server::KID ), $s->claims( $b ), 'x' );
				}
			),
			'HS256 keyed with the raw public key' => self::token_is(
				function ( $s, $b ) {
					return self::hs256( $s->claims( $b ), Fake_Server::$public );
				}
			),
			'HS256 keyed with the PEM public key' => self::token_is(
				function ( $s, $b ) use ( $pem ) {
					return self::hs256( $s->claims( $b ), $pem );
				}
			),
			'expired token'                       => self::token_is(
				function ( $s, $b ) {
					$now = $s->clock->now;
					return Fake_Server::sign( $s->claims( $b, array( 'iat' => $now - 90000, 'exp' => $now - 86400, 'grace' => 3600 ) ) );
				}
			),
			'token from the future'               => self::signed( array( 'iat' => 10000000000, 'exp' => 10000003600 ) ),
			'valid true with code REVOKED'        => self::signed( array( 'valid' => true, 'code' => 'REVOKED' ) ),
			'valid as a string'                   => self::signed( array( 'valid' => 'true' ) ),
			'iat as a string'                     => self::signed( array( 'iat' => '0' ) ),
			'exp as a float'                      => self::signed( array( 'exp' => 1767830400.5 ) ),
			'lic as a list'                       => self::signed( array( 'lic' => array( 1, 2 ) ) ),
			'padded base64url'                    => self::token_is(
				function ( $s, $b ) {
					$parts    = explode( '.', Fake_Server::sign( $s->claims( $b ) ) );
					$parts[2] = $parts[2] . '==';
					return implode( '.', $parts );
				}
			),
			'standard base64 alphabet'            => self::token_is(
				function ( $s, $b ) {
					// pad the claims until the encoding holds a '-' or '_' to translate
					for ( $pad = ''; ; $pad .= '~' ) {
						$genuine = Fake_Server::sign( $s->claims( $b, array( 'pad' => $pad ) ) );
						if ( strpbrk( $genuine, '-_' ) ) {
							return strtr( $genuine, '-_', '+/' );
						}
					}
				}
			),
			'four parts'                          => self::token_is(
				function ( $s, $b ) {
					return Fake_Server::sign( $s->claims( $b ) ) . '.x';
				}
			),
			'garbage bytes'                       => self::raw( 200, str_repeat( implode( '', array_map( 'chr', range( 0, 255 ) ) ), 4 ) ),
			'JSON null'                           => self::raw( 200, 'null' ),
			'JSON list'                           => self::raw( 200, '[{"token": "x"}]' ),
			'token is a number'                   => self::raw( 200, '{"token": 12345}' ),
			'token is junk text'                  => self::raw( 200, '{"token": "not.a.jwt"}' ),
			'truncated JSON'                      => self::raw( 200, '{"valid": true, "token": "ey' ),
			'empty body'                          => self::raw( 200, '' ),
			'HTML page'                           => self::raw( 200, '<html><body>License OK!</body></html>' ),
			'HTML error page'                     => self::raw( 502, '<html><body>Bad Gateway</body></html>' ),
			'huge token'                          => self::raw( 200, json_encode( array( 'token' => str_repeat( 'e', 200000 ) ) ) ),
			'error shape, forged code'            => self::raw( 409, '{"code": "VALID", "message": "ok"}' ),
			'transport answering nonsense'        => function () {
				return 'not an answer';
			},
			'transport raising a non-protocol error' => function () {
				throw new RuntimeException( 'a buggy custom transport' );
			},
		);
	}

	public function forgery_names() {
		new Fake_Server( new Test_Clock() ); // loads the test key
		$names = array();
		foreach ( array_keys( self::forgeries() ) as $name ) {
			$names[ $name ] = array( $name );
		}
		return $names;
	}

	public function test_honest_control_reaches_valid() {
		$server  = new Fake_Server( new Test_Clock() );
		$site    = $server->client();
		$outcome = $site->activate( TEST_KEY );
		$this->assertSame( array( true, 'VALID' ), array( $outcome['ok'], $outcome['code'] ) );
		$this->assertTrue( $site->is_valid() );
	}

	/** @dataProvider forgery_names */
	public function test_forgery_never_activates( $name ) {
		$server          = new Fake_Server( new Test_Clock() );
		$site            = $server->client();
		$forgery         = self::forgeries()[ $name ];
		$server->handler = $forgery;
		$outcome         = $site->activate( TEST_KEY );
		$this->assertFalse( $outcome['ok'] );
		$this->assertContains( $outcome['code'], array( 'UNTRUSTED_ANSWER', 'BAD_ANSWER', 'NETWORK_ERROR', 'CLOCK_ROLLBACK', 'TOKEN_EXPIRED' ) );
		$this->assertSame( Lcwp_Client::UNKNOWN, $site->status()['state'] );
		$this->assertFalse( $site->is_valid() );
	}

	/** @dataProvider forgery_names */
	public function test_forgery_never_lifts_a_revocation( $name ) {
		$server       = new Fake_Server( new Test_Clock() );
		$server->code = 'REVOKED';
		$site         = $server->client();
		$site->activate( TEST_KEY );
		$this->assertSame( array( 'INVALID', 'REVOKED' ), array( $site->status()['state'], $site->status()['code'] ) );
		$server->code    = 'VALID';
		$server->handler = self::forgeries()[ $name ];
		$outcome         = $site->refresh();
		$this->assertFalse( $outcome['ok'] );
		$this->assertSame( array( 'INVALID', 'REVOKED' ), array( $site->status()['state'], $site->status()['code'] ) );
	}
}
