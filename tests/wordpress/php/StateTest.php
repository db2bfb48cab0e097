<?php
/**
 * The state store and the decisions taken from it: grace, outages, clock rollback,
 * back-off, signed negative answers, deactivation, a copied site, protocol-1 servers.
 */

use PHPUnit\Framework\TestCase;

final class StateTest extends TestCase {
	/** @var Test_Clock */
	private $clock;
	/** @var Fake_Server */
	private $server;

	protected function setUp(): void {
		$this->clock  = new Test_Clock();
		$this->server = new Fake_Server( $this->clock );
	}

	private function code( Lcwp_Client $site ) {
		$status = $site->status();
		return $status['state'] . ':' . $status['code'];
	}

	public function test_outage_is_unknown_never_invalid_and_grace_holds() {
		$site = $this->server->client();
		$site->activate( TEST_KEY );
		$this->server->down = true;
		$this->clock->now  += 8 * 86400; // past exp, inside grace
		$outcome            = $site->refresh();
		$this->assertSame( 'NETWORK_ERROR', $outcome['code'] );
		$this->assertSame( 'VALID:VALID', $this->code( $site ) );
		$status = $site->status();
		$this->assertTrue( $status['in_grace'] );
		$this->assertSame( array( 1, $this->clock->now, 'NETWORK_ERROR' ), array( $status['failures'], $status['failing_since'], $status['last_error'] ) );
		$this->clock->now += 14 * 86400; // past exp + grace
		$this->assertSame( 'UNKNOWN:TOKEN_EXPIRED', $this->code( $site ) );
		$this->server->down = false;
		$site->refresh();
		$this->assertSame( 'VALID:VALID', $this->code( $site ) );
		$this->assertSame( 0, $site->status()['failures'] );
	}

	public function test_signed_negative_answer_is_stored_and_a_failure_does_not_lift_it() {
		$site               = $this->server->client();
		$this->server->code = 'SUSPENDED';
		$outcome            = $site->activate( TEST_KEY );
		$this->assertSame( array( false, 'SUSPENDED' ), array( $outcome['ok'], $outcome['code'] ) );
		$this->assertSame( 'INVALID:SUSPENDED', $this->code( $site ) );
		$this->server->down = true;
		$site->refresh();
		$this->assertSame( 'INVALID:SUSPENDED', $this->code( $site ) );
	}

	public function test_clock_rollback_shows_the_notice() {
		$site = $this->server->client();
		$site->activate( TEST_KEY );
		$this->clock->now -= 3601 + 300;
		$this->assertSame( 'UNKNOWN:CLOCK_ROLLBACK', $this->code( $site ) );
		$this->clock->now += 3601 + 300;
		$this->assertSame( 'VALID:VALID', $this->code( $site ) );
	}

	public function test_backoff_doubles_after_failures_and_daily_when_well() {
		$site  = $this->server->client();
		$start = $this->clock->now;
		$this->assertSame( PHP_INT_MAX, $site->next_refresh_at() ); // nothing to check without a key
		$site->activate( TEST_KEY );
		$this->assertSame( $start + 86400, $site->next_refresh_at() );
		$this->server->down = true;
		$delays             = array();
		foreach ( range( 1, 4 ) as $attempt ) {
			$this->clock->now = max( $this->clock->now, $site->next_refresh_at() );
			$this->assertNotNull( $site->revalidate_if_due() );
			$delays[] = $site->next_refresh_at() - $this->clock->now;
		}
		$this->assertSame( array( 300, 600, 1200, 2400 ), $delays );
		$this->assertNull( $site->revalidate_if_due() ); // not due yet
	}

	public function test_protocol_1_answers_without_kh_are_accepted_and_kh_binds_stored_tokens() {
		$this->server->with_kh = false;
		$site                  = $this->server->client();
		$this->assertTrue( $site->activate( TEST_KEY )['ok'] );
		$this->assertSame( 'VALID:VALID', $this->code( $site ) );
		// A stored token with kh for another key than the one stored is not trusted.
		$this->server->with_kh = true;
		$store                 = new Lcwp_Memory_Store();
		$site                  = $this->server->client( 'https://shop-one.com', $store );
		$site->activate( TEST_KEY );
		$this->assertSame( 'VALID:VALID', $this->code( $site ) );
		$store->data['license_key'] = 'JAN-7K3M9-PQRX2-WY4T8-VH6N0-J1G5X';
		$store->data['verified']    = null;
		$this->assertSame( 'UNKNOWN:UNTRUSTED_ANSWER', $this->code( $site ) );
	}

	public function test_copied_site_is_told_its_address_changed() {
		$store = new Lcwp_Memory_Store();
		$this->server->client( 'https://shop-one.com/', $store )->activate( TEST_KEY );
		$clone = $this->server->client( 'https://staging-copy.shop-one.net/', $store );
		$this->assertSame( 'UNKNOWN:DOMAIN_CHANGED', $this->code( $clone ) );
	}

	public function test_deactivate_forgets_the_key() {
		$site = $this->server->client();
		$site->activate( TEST_KEY );
		$outcome = $site->deactivate();
		$this->assertSame( array( true, 'DEACTIVATED' ), array( $outcome['ok'], $outcome['code'] ) );
		$this->assertSame( 'UNKNOWN:DEACTIVATED', $this->code( $site ) );
		$this->assertNull( $site->status()['key'] );
	}

	public function test_requests_carry_nonce_domain_and_product() {
		$site = $this->server->client( 'https://WWW.Shop-One.com:8443/blog/' );
		$site->activate( ' jan 7k3m9 pqrx2 wy4t8 vh6n0 j1g5p ' );
		list( $url, $body ) = $this->server->received[0];
		$this->assertSame( 'https://licenses.example.org/v1/activate', $url );
		$this->assertSame( array( TEST_KEY, 'shop-one.com', 'jannah' ), array( $body['license_key'], $body['domain'], $body['product'] ) );
		$this->assertGreaterThanOrEqual( 24, strlen( $body['nonce'] ) );
		$this->assertSame( 'INVALID_KEY_FORMAT', $site->activate( 'JAN-7K3M9-PQRX2-WY4T8-VH6N0-J1G5X' )['code'] );
		$this->assertCount( 1, $this->server->received ); // a typo never reaches the network
	}

	public function test_corrupt_state_reads_as_none() {
		foreach ( array( 'garbage', array( 'version' => 2 ), array( 'version' => 1, 'failures' => '3' ), array( 'version' => 1, 'token' => 5 ) ) as $stored ) {
			$site = $this->server->client( 'https://shop-one.com', new Lcwp_Memory_Store( $stored ) );
			$this->assertSame( 'UNKNOWN:NO_LICENSE', $this->code( $site ) );
		}
	}

	public function test_remembered_signature_needs_the_salted_digest() {
		$store = new Lcwp_Memory_Store();
		$site  = $this->server->client( 'https://shop-one.com', $store );
		$site->activate( TEST_KEY );
		$this->assertSame( 64, strlen( $store->data['verified'] ) );
		// A forged token with a forged digest (no salt) is still checked and refused.
		$parts    = explode( '.', $store->data['token'] );
		$claims   = json_decode( Lcwp_Token::b64url_decode( $parts[1] ), true );
		$claims['sub'] = 'forged';
		$store->data['token']    = $parts[0] . '.' . Lcwp_Token::b64url_encode( json_encode( $claims ) ) . '.' . $parts[2];
		$store->data['verified'] = hash_hmac( 'sha256', $store->data['token'], 'lcwp-verified|' );
		$this->assertSame( 'UNKNOWN:UNTRUSTED_ANSWER', $this->code( $site ) );
	}

	public function test_base64url_decoding_is_strict() {
		$this->assertSame( 'hi', Lcwp_Token::b64url_decode( 'aGk' ) );
		$this->assertNull( Lcwp_Token::b64url_decode( 'aGk=' ) );
		$this->assertNull( Lcwp_Token::b64url_decode( 'aGl' ) ); // non-zero trailing bits
		$this->assertNull( Lcwp_Token::b64url_decode( 'a' ) );
		$this->assertNull( Lcwp_Token::b64url_decode( 'a+b/' ) );
		$this->assertSame( "\xfb\xff", Lcwp_Token::b64url_decode( '-_8' ) );
	}
}
