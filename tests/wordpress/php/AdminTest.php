<?php
/**
 * The notice and the licence page's words, outside WordPress (escaping functions are
 * stubbed with WordPress's semantics): the exact text of PROTOCOL §6, escaped output,
 * public pages never on development hosts, the copied-site sentence.
 */

use PHPUnit\Framework\TestCase;

require_once __DIR__ . '/wp-stubs.php';
if ( ! function_exists( '__' ) ) {
	function __( $text, $domain = 'default' ) {
		return $text;
	}
}
require_once dirname( __DIR__, 3 ) . '/client/wordpress/includes/class-lcwp-admin.php';

final class AdminTest extends TestCase {
	const NOTICE = ' License is not validated, Go to the <a href="https://shop-one.com/wp-admin/themes.php?page=lcwp-license">theme options page</a> to validate the license, You need a single license for each domain name.';

	private function admin( $home, $name = 'Jannah', $store = null ) {
		$server = new Fake_Server( new Test_Clock() );
		$client = $server->client( $home, $store );
		$admin  = new Lcwp_Admin(
			$client,
			array(
				'name'          => $name,
				'capability'    => 'switch_themes',
				'page_parent'   => 'themes.php',
				'page_slug'     => 'lcwp-license',
				'settings_url'  => '',
				'show_publicly' => true,
			)
		);
		return array( $admin, $client );
	}

	private function printed( callable $call ) {
		ob_start();
		$call();
		return ob_get_clean();
	}

	public function test_notice_is_the_protocol_text_with_the_name_escaped() {
		list( $admin ) = $this->admin( 'https://shop-one.com/', 'Jannah <b>"Pro"</b>' );
		$this->assertSame( 'Jannah &lt;b&gt;&quot;Pro&quot;&lt;/b&gt;' . self::NOTICE, $admin->notice_html() );
		$printed = $this->printed( array( $admin, 'admin_notice' ) );
		$this->assertStringContainsString( 'notice-warning', $printed );
		$this->assertStringNotContainsString( '<b>', $printed );
	}

	public function test_the_notice_goes_once_the_licence_is_valid() {
		list( $admin, $client ) = $this->admin( 'https://shop-one.com/' );
		$this->assertNotSame( '', $this->printed( array( $admin, 'admin_notice' ) ) );
		$this->assertNotSame( '', $this->printed( array( $admin, 'public_notice' ) ) );
		$client->activate( TEST_KEY );
		$this->assertSame( '', $this->printed( array( $admin, 'admin_notice' ) ) );
		$this->assertSame( '', $this->printed( array( $admin, 'public_notice' ) ) );
	}

	public function test_public_pages_never_show_it_on_development_hosts() {
		foreach ( array( 'http://localhost:8080/', 'https://shop.test/', 'http://192.168.1.20/', 'https://my.local/' ) as $home ) {
			list( $admin ) = $this->admin( $home );
			$this->assertSame( '', $this->printed( array( $admin, 'public_notice' ) ), $home );
			$this->assertNotSame( '', $this->printed( array( $admin, 'admin_notice' ) ), $home );
		}
	}

	public function test_a_copied_site_is_told_its_address_changed() {
		$store                 = new Lcwp_Memory_Store();
		list( , $original )    = $this->admin( 'https://shop-one.com/', 'Jannah', $store );
		$original->activate( TEST_KEY );
		list( $clone_admin )   = $this->admin( 'https://staging-copy.example.org/', 'Jannah', $store );
		$this->assertStringEndsWith( " This site&#039;s address changed; activate it or move the licence.", $clone_admin->notice_html() );
	}

	public function test_state_words() {
		list( $admin ) = $this->admin( 'https://shop-one.com/' );
		$base          = array(
			'state' => 'INVALID',
			'lic'   => null,
		);
		$this->assertSame( 'Revoked: this license has been revoked.', $admin->state_words( $base + array( 'code' => 'REVOKED' ) ) );
		$this->assertSame( 'Suspended: this license is suspended.', $admin->state_words( $base + array( 'code' => 'SUSPENDED' ) ) );
		$this->assertSame( 'Expired: this license has expired.', $admin->state_words( $base + array( 'code' => 'EXPIRED' ) ) );
		$this->assertSame( 'This domain is not activated for this license.', $admin->state_words( $base + array( 'code' => 'DOMAIN_NOT_ACTIVATED' ) ) );
		$this->assertSame( 'Not validated: no license key has been activated on this site.', $admin->state_words( array( 'state' => 'UNKNOWN', 'code' => 'NO_LICENSE' ) ) );
		$this->assertSame( 'The license server answered <NEW_CODE>.', $admin->message( '<NEW_CODE>' ) ); // escaped where printed
	}

	private function page( Lcwp_Admin $admin ) {
		return $this->printed( array( $admin, 'render_page' ) );
	}

	public function test_a_valid_licence_offers_check_and_deactivate_but_no_key_field() {
		list( $admin, $client ) = $this->admin( 'https://shop-one.com/' );
		$client->activate( TEST_KEY );
		$page = $this->page( $admin );
		$this->assertStringContainsString( 'value="deactivate">Deactivate<', $page );
		$this->assertStringNotContainsString( 'name="lcwp_key"', $page );
		$this->assertStringContainsString( 'Last confirmed by the license server:', $page );
		$this->assertTrue( $admin->holds_seat( $client->status() ) );
	}

	/** @return array[] Refusals for this domain: the key holds no seat here. */
	public function refusals_holding_no_seat() {
		return array(
			'unknown key'        => array( 'NOT_FOUND' ),
			'another product'    => array( 'PRODUCT_MISMATCH' ),
			'every seat taken'   => array( 'ACTIVATION_LIMIT_REACHED' ),
			'domain not active'  => array( 'DOMAIN_NOT_ACTIVATED' ),
		);
	}

	/** @dataProvider refusals_holding_no_seat */
	public function test_a_refused_key_can_be_removed_or_replaced_at_once( $code ) {
		list( $admin, $client ) = $this->admin( 'https://shop-one.com/' );
		$server                 = $this->server_of( $client );
		$server->code           = $code;
		$client->activate( TEST_KEY );
		$page = $this->page( $admin );
		$this->assertFalse( $admin->holds_seat( $client->status() ) );
		$this->assertStringContainsString( 'value="deactivate">Remove this key<', $page );
		$this->assertStringNotContainsString( '>Deactivate<', $page );
		$this->assertStringContainsString( 'Use another license key', $page );
		$this->assertStringContainsString( 'name="lcwp_key"', $page );
		$this->assertStringContainsString( 'Last answer of the license server:', $page );
		$this->assertStringNotContainsString( 'Last confirmed', $page ); // nothing was confirmed
	}

	public function test_a_revoked_licence_still_deactivates_and_takes_another_key() {
		list( $admin, $client ) = $this->admin( 'https://shop-one.com/' );
		$client->activate( TEST_KEY );
		$this->server_of( $client )->code = 'REVOKED';
		$client->refresh();
		$page = $this->page( $admin );
		$this->assertTrue( $admin->holds_seat( $client->status() ) );
		$this->assertStringContainsString( 'value="deactivate">Deactivate<', $page );
		$this->assertStringContainsString( 'Use another license key', $page );
		$this->assertSame( 'The license key was removed from this site; you can enter another one.', $admin->message( 'KEY_REMOVED' ) );
	}

	private function server_of( Lcwp_Client $client ) {
		$transport = ( new ReflectionProperty( Lcwp_Client::class, 'transport' ) );
		$transport->setAccessible( true );
		return $transport->getValue( $client );
	}

	/** @return array[] A server answer that fails one check, and the words the owner sees. */
	public function untrusted_answers() {
		return array(
			'another vendor'  => array( array( 'iss' => 'other-vendor' ), 'claim_iss', 'another vendor or product' ),
			'another product' => array( array( 'aud' => 'other-theme' ), 'claim_aud', 'another vendor or product' ),
			'another domain'  => array( array( 'dom' => 'other.com' ), 'claim_dom', "another domain than this site&#039;s (shop-one.com)" ),
		);
	}

	/** @dataProvider untrusted_answers */
	public function test_an_unverifiable_answer_says_what_to_check( array $changes, $why, $words ) {
		list( $admin, $client ) = $this->admin( 'https://shop-one.com/' );
		$this->server_of( $client )->handler = function ( Fake_Server $server, array $body ) use ( $changes ) {
			return $server->answer( $body, Fake_Server::sign( $server->claims( $body, $changes ) ) );
		};
		$outcome = $client->activate( TEST_KEY );
		$this->assertSame( array( 'UNTRUSTED_ANSWER', $why ), array( $outcome['code'], $outcome['why'] ) );
		$_GET = array(
			'lcwp_result' => 'UNTRUSTED_ANSWER',
			'lcwp_why'    => $why,
		);
		try {
			$page = $this->page( $admin );
		} finally {
			$_GET = array();
		}
		$this->assertStringContainsString( "The license server&#039;s answer could not be verified. It is for " . $words, $page );
	}

	public function test_an_answer_under_an_unpinned_key_says_to_update_the_theme() {
		list( $admin ) = $this->admin( 'https://shop-one.com/' );
		$this->assertStringStartsWith( 'It is signed with a key this theme does not know', $admin->untrusted_hint( 'key_unknown', 'shop-one.com' ) );
		$this->assertSame( '', $admin->untrusted_hint( 'malformed', 'shop-one.com' ) );
	}
}
