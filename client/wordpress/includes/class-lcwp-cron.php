<?php
/**
 * Re-validation through WP-Cron: one single event at the next due time plus jitter.
 *
 * The due time comes from Lcwp_Client::next_refresh_at() (daily when all is well,
 * near the token's expiry, exponential back-off after failures); a random jitter of
 * up to an hour spreads many sites over the day. The network call runs only in the
 * cron event, never while a visitor's page renders. A missing event is re-created
 * on the next request, so a lost cron entry does not stop re-validation.
 *
 * @package Lcwp
 */

if ( ! defined( 'ABSPATH' ) && ! defined( 'LCWP_TESTING' ) ) {
	exit;
}

/** The cron side of one licence client. */
class Lcwp_Cron {
	const JITTER = 3600;

	/** @var Lcwp_Client */
	private $client;
	/** @var string */
	private $hook;

	/**
	 * @param Lcwp_Client $client The licence logic.
	 * @param string      $hook   The cron hook name (prefixed).
	 */
	public function __construct( Lcwp_Client $client, $hook ) {
		$this->client = $client;
		$this->hook   = $hook;
	}

	/** Hook the event and keep it scheduled. */
	public function register() {
		add_action( $this->hook, array( $this, 'run' ) );
		add_action( 'init', array( $this, 'ensure_scheduled' ) );
		add_action( 'lcwp_license_changed', array( $this, 'reschedule' ) );
	}

	/** Run the due re-validation, then schedule the next one. */
	public function run() {
		$this->client->revalidate_if_due();
		$this->reschedule();
	}

	/** Schedule the event if it is missing. */
	public function ensure_scheduled() {
		if ( false === wp_next_scheduled( $this->hook ) ) {
			$this->reschedule();
		}
	}

	/** Replace the event by one at the next due time plus jitter (none without a key). */
	public function reschedule() {
		wp_clear_scheduled_hook( $this->hook );
		$due = $this->client->next_refresh_at();
		if ( PHP_INT_MAX === $due ) {
			return;
		}
		$at = max( $due, $this->client->now() + 60 ) + wp_rand( 0, self::JITTER );
		wp_schedule_single_event( $at, $this->hook );
	}
}
