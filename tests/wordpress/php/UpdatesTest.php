<?php
/**
 * Trust rules of the update check answer: only a signed answer whose upd claim
 * matches the version and package used is kept; packages come from the licence
 * server only. (WordPress's screens and package signatures run in the e2e suite.)
 */

use PHPUnit\Framework\TestCase;

require_once __DIR__ . '/wp-stubs.php';
require_once dirname( __DIR__, 3 ) . '/client/wordpress/includes/class-lcwp-updates.php';

final class UpdatesTest extends TestCase {
	const SERVER = 'https://licenses.example.org';

	/** @var Fake_Server */
	private $server;
	/** @var Lcwp_Updates */
	private $updates;
	/** @var Lcwp_Client */
	private $client;

	protected function setUp(): void {
		$GLOBALS['lcwp_test_options']        = array();
		$GLOBALS['lcwp_test_theme_versions'] = array();
		$this->server                 = new Fake_Server( new Test_Clock() );
		$this->updates                = $this->updates_for( 'theme', 'jannah' );
	}

	private function updates_for( $type, $slug ) {
		$this->client = $this->server->client( 'https://shop-one.com/' );
		return new Lcwp_Updates(
			$this->client,
			array(
				'product'      => Fake_Server::PRODUCT,
				'issuer'       => Fake_Server::ISSUER,
				'keys'         => Fake_Server::keys(),
				'server_url'   => self::SERVER . '/',
				'type'         => $type,
				'slug'         => $slug,
				'version'      => '1.0.0',
				'release_keys' => array( base64_encode( str_repeat( 'k', 32 ) ) ),
				'name'         => 'Jannah',
			)
		);
	}

	/** Store a trusted answer as check() would. */
	private function keep( Lcwp_Updates $updates, array $answer ) {
		$kept = $updates->trusted( $answer, 'the-nonce', TEST_KEY );
		$this->assertNotNull( $kept );
		add_option( 'lcwp_updates_jannah', $kept, '', 'no' );
	}

	/** An update check answer as the server signs it, with changes to fields and upd. */
	private function answer( array $fields = array(), array $upd = array(), array $claims = array() ) {
		$body   = array(
			'license_key' => TEST_KEY,
			'domain'      => 'shop-one.com',
			'nonce'       => 'the-nonce',
		);
		$data   = array_merge(
			array(
				'update_available' => true,
				'entitled'         => true,
				'new_version'      => '1.1.0',
				'latest_version'   => '1.1.0',
				'package'          => self::SERVER . '/v1/downloads/abc.def',
				'url'              => self::SERVER . '/v1/updates/jannah/changelog',
				'reason'           => null,
			),
			$fields
		);
		$signed = array_merge(
			$this->server->claims( $body ),
			array(
				'upd' => array_merge(
					array(
						'ver'    => '1.1.0',
						'pkg'    => true,
						'reason' => null,
						'sha384' => str_repeat( 'a', 96 ),
					),
					$upd
				),
			),
			$claims
		);
		$data['token'] = Fake_Server::sign( $signed );
		return $data;
	}

	private function trusted( array $data, $nonce = 'the-nonce', $key = TEST_KEY ) {
		return $this->updates->trusted( $data, $nonce, $key );
	}

	public function test_honest_entitled_answer_is_kept() {
		$kept = $this->trusted( $this->answer() );
		$this->assertSame( array( '1.1.0', self::SERVER . '/v1/downloads/abc.def' ), array( $kept['new_version'], $kept['package'] ) );
	}

	public function test_honest_refusal_keeps_the_reason_and_no_package() {
		$reason = array(
			'code'        => 'UPDATES_EXPIRED',
			'message'     => 'Your update period ended.',
			'renewal_url' => 'https://shop.example/renew',
		);
		$kept   = $this->trusted( $this->answer( array( 'package' => null, 'reason' => $reason ), array( 'pkg' => false, 'reason' => 'UPDATES_EXPIRED' ) ) );
		$this->assertNull( $kept['package'] );
		$this->assertSame( array( 'UPDATES_EXPIRED', 'Your update period ended.', 'https://shop.example/renew' ), array( $kept['reason_code'], $kept['reason'], $kept['renewal_url'] ) );
	}

	public function forgeries() {
		return array(
			'version not the signed one'     => array( array( 'new_version' => '9.9.9' ), array() ),
			'package added to a refusal'     => array( array(), array( 'pkg' => false ) ),
			'package removed from an offer'  => array( array( 'package' => null ), array() ),
			'package from another host'      => array( array( 'package' => 'https://evil.example/x.zip' ), array() ),
			'package from a look-alike host' => array( array( 'package' => self::SERVER . '.evil.example/x.zip' ), array() ),
			'upd missing'                    => array( array(), array(), array( 'upd' => null ) ),
			'answer for another key (kh)'    => array( array(), array(), array( 'kh' => Lcwp_Key::hash( 'ABC-00000-00000-00000-00000-00000' ) ) ),
			'answer for another domain'      => array( array(), array(), array( 'dom' => 'other.com' ) ),
		);
	}

	/** @dataProvider forgeries */
	public function test_forged_answer_is_dropped( array $fields, array $upd, array $claims = array() ) {
		$this->assertNull( $this->trusted( $this->answer( $fields, $upd, $claims ) ) );
	}

	public function test_replayed_or_unsigned_answers_are_dropped() {
		$this->assertNull( $this->trusted( $this->answer(), 'another-nonce' ) );
		$unsigned = $this->answer();
		unset( $unsigned['token'] );
		$this->assertNull( $this->trusted( $unsigned ) );
		$tampered          = $this->answer();
		$tampered['token'] = substr( $tampered['token'], 0, -2 ) . ( 'AA' === substr( $tampered['token'], -2 ) ? 'BA' : 'AA' );
		$this->assertNull( $this->trusted( $tampered ) );
	}

	public function test_theme_entry_is_injected_at_read_time_and_kept_off_autoload() {
		$this->keep( $this->updates, $this->answer() );
		$this->assertSame( 'no', $GLOBALS['lcwp_test_autoload']['lcwp_updates_jannah'] );
		$transient = $this->updates->inject( false ); // wordpress.org never answered
		$this->assertSame(
			array(
				'theme'        => 'jannah',
				'new_version'  => '1.1.0',
				'url'          => self::SERVER . '/v1/updates/jannah/changelog',
				'package'      => self::SERVER . '/v1/downloads/abc.def',
				'requires'     => '',
				'requires_php' => '',
				'tested'       => '',
			),
			$transient->response['jannah']
		);
		$this->assertArrayNotHasKey( 'jannah', $transient->no_update );
		$this->assertSame( '1.0.0', $transient->checked['jannah'] );
	}

	public function test_no_update_entry_keeps_the_auto_update_toggle() {
		$this->keep( $this->updates, $this->answer( array( 'update_available' => false, 'new_version' => '1.0.0', 'package' => null ), array( 'ver' => '1.0.0', 'pkg' => false ) ) );
		$transient = $this->updates->inject( (object) array( 'response' => array( 'jannah' => array( 'stale' ) ) ) );
		$this->assertArrayNotHasKey( 'jannah', $transient->response );
		$this->assertSame( '1.0.0', $transient->no_update['jannah']['new_version'] );
	}

	public function test_lapsed_answer_names_the_version_and_the_reason_without_package() {
		$reason = array(
			'code'        => 'UPDATES_EXPIRED',
			'message'     => 'Your update period ended.',
			'renewal_url' => 'https://shop.example/renew',
		);
		$this->keep( $this->updates, $this->answer( array( 'package' => null, 'reason' => $reason ), array( 'pkg' => false ) ) );
		$transient = $this->updates->inject( new stdClass() );
		$this->assertSame( '', $transient->response['jannah']['package'] );
		$this->assertSame( 'Jannah 1.1.0 is available, but this site cannot install it: Your update period ended.', $this->updates->reason_text() );
	}

	public function test_answer_for_another_installed_version_is_not_injected() {
		$this->keep( $this->updates, $this->answer() );
		$GLOBALS['lcwp_test_options']['lcwp_updates_jannah']['installed'] = '0.9.0';
		$this->assertFalse( $this->updates->inject( false ) );
	}

	public function test_after_the_update_the_installed_version_is_no_longer_offered() {
		$this->keep( $this->updates, $this->answer() ); // asked while 1.0.0 was installed
		$saved = (object) array( 'response' => array( 'jannah' => array( 'theme' => 'jannah', 'new_version' => '1.1.0' ) ) );
		$GLOBALS['lcwp_test_theme_versions']['jannah'] = '1.1.0'; // WordPress installed it
		$transient = $this->updates->inject( clone $saved );
		$this->assertArrayNotHasKey( 'jannah', $transient->response );
		$GLOBALS['lcwp_test_theme_versions']['jannah'] = '1.0.5'; // an older copy: 1.1.0 is still news
		$this->assertSame( '1.1.0', $this->updates->inject( clone $saved )->response['jannah']['new_version'] );
	}

	public function test_wordpress_check_after_the_update_asks_about_the_new_version() {
		$this->client->activate( TEST_KEY );
		$this->keep( $this->updates, $this->answer() ); // fresh: no need to ask again for 1.0.0
		$this->server->received = array();
		$this->updates->on_wordpress_check( new stdClass() );
		$this->assertSame( array(), $this->server->received );
		$GLOBALS['lcwp_test_theme_versions']['jannah'] = '1.1.0';
		$this->updates->on_wordpress_check( new stdClass() );
		$this->updates->on_wordpress_check( new stdClass() ); // core saves twice: one request
		$this->assertCount( 1, $this->server->received );
		$this->assertSame( '1.1.0', $this->server->received[0][1]['version'] );
	}

	public function test_theme_is_removed_from_the_request_to_wordpress_org() {
		$themes = array(
			'active' => 'jannah',
			'themes' => array(
				'jannah'            => array( 'Version' => '1.0.0' ),
				'twentytwentythree' => array( 'Version' => '1.0' ),
			),
		);
		$args   = $this->updates->hide_from_wordpress_org( array( 'body' => array( 'themes' => json_encode( $themes ) ) ), 'https://api.wordpress.org/themes/update-check/1.1/' );
		$sent   = json_decode( $args['body']['themes'], true );
		$this->assertSame( array( 'twentytwentythree' ), array_keys( $sent['themes'] ) );
		$this->assertSame( '', $sent['active'] );
		$other = array( 'body' => array( 'themes' => json_encode( $themes ) ) );
		$this->assertSame( $other, $this->updates->hide_from_wordpress_org( $other, 'https://example.org/themes/update-check/1.1/' ) );
	}

	public function test_plugin_entries_are_objects_and_feed_the_details_modal() {
		$plugin = $this->updates_for( 'plugin', 'jannah/jannah.php' );
		$this->keep( $plugin, $this->answer( array( 'sections' => array( 'changelog' => '<h4>1.1.0</h4>' ) ) ) );
		$transient = $plugin->inject( false );
		$entry     = $transient->response['jannah/jannah.php'];
		$this->assertIsObject( $entry );
		$this->assertSame( array( 'jannah', 'jannah/jannah.php', '1.1.0' ), array( $entry->slug, $entry->plugin, $entry->new_version ) );
		$info = $plugin->plugin_information( false, 'plugin_information', (object) array( 'slug' => 'jannah' ) );
		$this->assertSame( array( '1.1.0', '<h4>1.1.0</h4>' ), array( $info->version, $info->sections['changelog'] ) );
		$this->assertFalse( $plugin->plugin_information( false, 'plugin_information', (object) array( 'slug' => 'other' ) ) );
		$plugins = array( 'active' => array( 'jannah/jannah.php', 'akismet/akismet.php' ), 'plugins' => array( 'jannah/jannah.php' => array(), 'akismet/akismet.php' => array() ) );
		$args    = $plugin->hide_from_wordpress_org( array( 'body' => array( 'plugins' => json_encode( $plugins ) ) ), 'https://api.wordpress.org/plugins/update-check/1.1/' );
		$sent    = json_decode( $args['body']['plugins'], true );
		$this->assertSame( array( array( 'akismet/akismet.php' ), array( 'akismet/akismet.php' ) ), array( $sent['active'], array_keys( $sent['plugins'] ) ) );
	}

	public function test_signatures_are_checked_for_the_licence_server_only() {
		$ours = self::SERVER . '/v1/downloads/abc.def';
		$this->assertSame( array( 'wordpress.org', 'licenses.example.org' ), $this->updates->signature_hosts( array( 'wordpress.org' ) ) );
		$this->assertSame( $ours . '.sig', $this->updates->signature_url( false, $ours ) );
		$this->assertFalse( $this->updates->signature_url( false, 'https://downloads.wordpress.org/x.zip' ) );
		$this->assertSame( Lcwp_Token::native_sodium() ? false : true, $this->updates->softfail( true, $ours ) );
		$this->assertTrue( $this->updates->softfail( true, 'https://downloads.wordpress.org/x.zip' ) );
		$this->assertContains( base64_encode( str_repeat( 'k', 32 ) ), $this->updates->trusted_keys( array() ) );
	}
}
