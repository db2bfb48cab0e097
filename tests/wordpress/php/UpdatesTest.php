<?php
/**
 * Trust rules of the update check answer: only a signed answer whose upd claim
 * matches the version and package used is kept; packages come from the licence
 * server only. (WordPress's screens and package signatures run in the e2e suite.)
 */

use PHPUnit\Framework\TestCase;

if ( ! function_exists( 'sanitize_key' ) ) {
	function sanitize_key( $key ) {
		return preg_replace( '/[^a-z0-9_\-]/', '', strtolower( $key ) );
	}
}
if ( ! function_exists( 'wp_parse_url' ) ) {
	function wp_parse_url( $url, $component = -1 ) {
		return parse_url( $url, $component );
	}
}
require_once dirname( __DIR__, 3 ) . '/client/wordpress/includes/class-lcwp-updates.php';

final class UpdatesTest extends TestCase {
	const SERVER = 'https://licenses.example.org';

	/** @var Fake_Server */
	private $server;
	/** @var Lcwp_Updates */
	private $updates;

	protected function setUp(): void {
		$this->server  = new Fake_Server( new Test_Clock() );
		$client        = $this->server->client( 'https://shop-one.com/' );
		$this->updates = new Lcwp_Updates(
			$client,
			array(
				'product'      => Fake_Server::PRODUCT,
				'issuer'       => Fake_Server::ISSUER,
				'keys'         => Fake_Server::keys(),
				'server_url'   => self::SERVER . '/',
				'type'         => 'theme',
				'slug'         => 'jannah',
				'version'      => '1.0.0',
				'release_keys' => array(),
				'name'         => 'Jannah',
			)
		);
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
}
