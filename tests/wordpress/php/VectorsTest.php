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
	 * With ext-intl: ICU's UTS 46 accepts emoji labels that IDNA 2008 (the server's
	 * idna package) refuses. The server refuses those domains, so no token can name
	 * them: a site there can never validate, which is the safe direction.
	 */
	const ICU_DIFFERENCES = array(
		'😀.com'      => 'ICU UTS 46 maps emoji; IDNA 2008 refuses them (DISALLOWED)',
		'i❤.ws'       => 'ICU UTS 46 maps emoji; IDNA 2008 refuses them (DISALLOWED)',
		'xn--ls8h.la' => 'the A-label of an emoji: ICU accepts, IDNA 2008 refuses',
	);

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
		'xn--ls8h.la'                   => 'A-labels are not decoded without ext-intl',
		'xn--abc.com'                   => 'A-labels are not decoded without ext-intl',
	);

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
		$this->assertSame( array_keys( $differences ), array_keys( $seen ), 'every listed difference is a vector' );
		return $matched;
	}

	public function test_domains_with_icu() {
		if ( ! function_exists( 'idn_to_ascii' ) ) {
			$this->markTestSkipped( 'ext-intl is not loaded' );
		}
		$matched = $this->check_domains( self::ICU_DIFFERENCES );
		$this->assertSame( 140, $matched );
	}

	public function test_domains_ascii_only() {
		Lcwp_Domain::$use_intl = false;
		$matched = $this->check_domains( self::ASCII_DIFFERENCES );
		$this->assertSame( 132, $matched );
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
