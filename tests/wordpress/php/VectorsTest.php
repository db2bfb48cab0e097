<?php
/**
 * The shared vectors of tests/vectors/ through the PHP code.
 *
 * Domains the PHP canonicaliser legitimately cannot match are listed here with
 * their reason, per implementation (ICU through ext-intl; the ASCII-only fallback);
 * each listed difference is also asserted to still differ, so the list stays true.
 */

use PHPUnit\Framework\TestCase;

final class VectorsTest extends TestCase {
	/**
	 * With ext-intl only the Public Suffix List differs: the server maps emoji labels
	 * with UTS 46 non-strict as ICU does (issue 17, item 15), but PHP ships no Public
	 * Suffix List, so a "prefix.*" pattern matches whatever follows the prefix. Only
	 * whether the public notice shows depends on it here; seats are the server's.
	 */
	const PSL_DIFFERENCES = array(
		'staging.com'       => 'no Public Suffix List in PHP: "staging.*" matches it',
		'staging.shop'      => 'no Public Suffix List in PHP: "staging.*" matches it',
		'staging.co.uk'     => 'no Public Suffix List in PHP: "staging.*" matches it',
		'staging.github.io' => 'no Public Suffix List in PHP: "staging.*" matches it',
	);
	const ICU_DIFFERENCES = self::PSL_DIFFERENCES;

	/**
	 * Without ext-intl only ASCII host names are accepted (PROTOCOL §3 fallback):
	 * non-ASCII names are refused (the site shows the notice and says why), and
	 * A-labels are lowercased without being decoded (the server's signed dom must
	 * still equal them, so an invalid one can never validate).
	 */
	const ASCII_DIFFERENCES = array(
		'Bücher.Example.COM'            => 'non-ASCII: needs ext-intl',
		'ÉCOLE.fr'                      => 'non-ASCII: needs ext-intl',
		'faß.de'                        => 'non-ASCII: needs ext-intl',
		'例え.テスト'                   => 'non-ASCII: needs ext-intl',
		'ｅｘａｍｐｌｅ．ｃｏｍ'        => 'full-width: needs ext-intl',
		'Ⅻ.com'                         => 'compatibility mapping: needs ext-intl',
		'https://www.Bücher.de/'        => 'non-ASCII: needs ext-intl',
		'https://Staging.Bücher.de/'    => 'non-ASCII: needs ext-intl',
		'shop.bücher.de'                => 'non-ASCII: needs ext-intl',
		'xn--abc.com'                   => 'A-labels are not decoded without ext-intl',
		'😀.com'                        => 'non-ASCII: needs ext-intl',
		'i❤.ws'                         => 'non-ASCII: needs ext-intl',
		'☃.net'                         => 'non-ASCII: needs ext-intl',
		'ﬁ❤.com'                        => 'non-ASCII: needs ext-intl',
		'www.😀.com'                    => 'non-ASCII: needs ext-intl',
	) + self::PSL_DIFFERENCES;

	protected function tearDown(): void {
		Lcwp_Domain::$use_intl = null;
	}

	private static function vectors( $name ) {
		return json_decode( file_get_contents( dirname( __DIR__, 2 ) . "/vectors/$name.json" ), true );
	}

	private static function run_domain( array $vector ) {
		try {
			$canonical = Lcwp_Domain::canonical( $vector['input'] );
			$patterns  = isset( $vector['patterns'] ) ? $vector['patterns'] : array();
			return array( $canonical, Lcwp_Domain::is_development( $canonical, $patterns ) );
		} catch ( Lcwp_Domain_Error $error ) {
			return array( null, null );
		}
	}

	private function check_domains( array $differences ) {
		$matched = 0;
		$seen    = array();
		foreach ( self::vectors( 'domains' )['vectors'] as $vector ) {
			$got  = self::run_domain( $vector );
			$want = array( $vector['canonical'], $vector['development'] );
			if ( isset( $differences[ $vector['input'] ] ) ) {
				$this->assertNotSame( $want, $got, 'listed as a difference but matches now: ' . $vector['input'] );
				$seen[ $vector['input'] ] = true;
				continue;
			}
			$this->assertSame( $want, $got, 'domain vector ' . json_encode( $vector['input'], JSON_UNESCAPED_UNICODE ) );
			++$matched;
		}
		$listed = array_keys( $differences );
		$found  = array_keys( $seen );
		sort( $listed );
		sort( $found );
		$this->assertSame( $listed, $found, 'every listed difference is a vector' );
		return $matched;
	}

	public function test_domains_with_icu() {
		if ( ! function_exists( 'idn_to_ascii' ) ) {
			$this->markTestSkipped( 'ext-intl is not loaded' );
		}
		$matched = $this->check_domains( self::ICU_DIFFERENCES );
		$this->assertSame( 172, $matched );
	}

	public function test_domains_ascii_only() {
		Lcwp_Domain::$use_intl = false;
		$matched = $this->check_domains( self::ASCII_DIFFERENCES );
		$this->assertSame( 157, $matched );
	}

	public function test_key_check_symbols() {
		$vectors = self::vectors( 'keys' );
		foreach ( $vectors['check_symbol'] as $vector ) {
			$this->assertSame( $vector['check'], Lcwp_Key::check_symbol( $vector['payload'] ), $vector['payload'] );
		}
	}

	public function test_key_parsing() {
		$vectors = self::vectors( 'keys' );
		$this->assertGreaterThan( 30, count( $vectors['parse'] ) );
		foreach ( $vectors['parse'] as $vector ) {
			try {
				$got = Lcwp_Key::parse( $vector['input'] );
			} catch ( Lcwp_Key_Error $error ) {
				$got = null;
			}
			$this->assertSame( $vector['canonical'], $got, 'key vector ' . json_encode( $vector['input'] ) );
		}
	}

	public function test_key_whitespace_is_the_pinned_set() {
		$vectors = self::vectors( 'keys' );
		$key     = '7K3M9-PQRX2-WY4T8-VH6N0-J1G5P';
		$this->assertSame( $key, Lcwp_Key::parse( $key ) );
		$char = function ( $code ) {
			return mb_chr( hexdec( substr( $code, 2 ) ), 'UTF-8' );
		};
		foreach ( $vectors['whitespace'] as $code ) {
			$space = $char( $code );
			$this->assertSame( $key, Lcwp_Key::parse( $space . $key . $space ), "around: $code" );
			$inside = str_replace( '-', $space, $key );
			if ( in_array( $code, $vectors['line_breaks'], true ) ) {
				$this->expectNotParsed( $inside, "a line break inside: $code" );
			} else {
				$this->assertSame( $key, Lcwp_Key::parse( $inside ), "inside: $code" );
			}
		}
		foreach ( array( 'U+0085', 'U+001C', 'U+180E', 'U+0000' ) as $code ) {
			$this->expectNotParsed( $char( $code ) . $key, "not in the set: $code" );
		}
	}

	private function expectNotParsed( $text, $why ) {
		try {
			Lcwp_Key::parse( $text );
			$this->fail( $why );
		} catch ( Lcwp_Key_Error $error ) {
			$this->assertNotEmpty( $error->getMessage() );
		}
	}

	public function test_token_vectors() {
		if ( ! function_exists( 'idn_to_ascii' ) ) {
			$this->markTestSkipped( 'the vector site is an IDN (www.Bücher.de): needs ext-intl' );
		}
		$vector   = self::vectors( 'token' );
		$site     = $vector['site'];
		$verifier = new Lcwp_Token(
			array( $vector['public_jwk']['kid'] => $vector['public_jwk']['x'] ),
			$site['issuer'],
			$site['product'],
			Lcwp_Domain::canonical( $site['domain'] )
		);
		$names = array(
			'TokenFromFuture' => 'future',
			'TokenExpired'    => 'expired',
		);
		$checked = 0;
		foreach ( $vector['tokens'] as $token ) {
			$nonce = isset( $token['nonce'] ) ? $token['nonce'] : null;
			foreach ( $token['checks'] as $check ) {
				try {
					$claims = $verifier->verify( $token['token'], $check['now'], $nonce );
					$got    = 'ok';
					$this->assertSame( $token['claims']['code'], $claims['code'] );
				} catch ( Lcwp_Token_Error $error ) {
					$got = array_search( $error->reason, $names, true );
				}
				$this->assertSame( $check['expect'], $got, $token['name'] . ' at ' . $check['now'] );
				++$checked;
			}
		}
		$this->assertSame( 8, $checked );
	}
}
