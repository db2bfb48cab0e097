<?php
/**
 * The licence page, its admin-post actions and the "License is not validated" notice.
 *
 * The page (Appearance -> "{Theme} License" for a theme, Settings for a plugin, or a
 * tab of the author's own page through render_page()) shows the state in plain words
 * and posts Activate, Deactivate and Check now to admin-post.php with a nonce and a
 * capability check. The notice (PROTOCOL §6) shows on every admin page to users
 * with the capability until the licence is validated, and on public pages only when
 * the product asks for it and never on development hosts.
 *
 * @package Lcwp
 */

if ( ! defined( 'ABSPATH' ) && ! defined( 'LCWP_TESTING' ) ) {
	exit;
}

/** WordPress screens of one licence client. */
class Lcwp_Admin {
	const ACTION = 'lcwp_license';

	/** @var Lcwp_Client */
	private $client;
	/** @var array Boot options: name, capability, page_parent, page_slug, settings_url, show_publicly. */
	private $options;

	/**
	 * @param Lcwp_Client $client  The licence logic.
	 * @param array       $options Boot options.
	 */
	public function __construct( Lcwp_Client $client, array $options ) {
		$this->client  = $client;
		$this->options = $options;
	}

	/** Hook the page, the actions and the notices into WordPress. */
	public function register() {
		if ( false !== $this->options['page_parent'] ) {
			add_action( 'admin_menu', array( $this, 'add_page' ) );
		}
		add_action( 'admin_post_' . self::ACTION, array( $this, 'handle_post' ) );
		add_action( 'admin_notices', array( $this, 'admin_notice' ) );
		if ( $this->options['show_publicly'] ) {
			add_action( 'wp_body_open', array( $this, 'public_notice' ) );
		}
	}

	/** Add the licence page to the menu. */
	public function add_page() {
		/* translators: %s: the theme's or plugin's name. */
		$title = sprintf( __( '%s License', 'lcwp-license' ), $this->options['name'] );
		add_submenu_page( $this->options['page_parent'], $title, $title, $this->options['capability'], $this->options['page_slug'], array( $this, 'render_page' ) );
	}

	/**
	 * Return the URL of the licence page.
	 *
	 * @return string
	 */
	public function page_url() {
		if ( '' !== (string) $this->options['settings_url'] ) {
			return (string) $this->options['settings_url'];
		}
		$parent = (string) $this->options['page_parent'];
		$base   = false !== strpos( $parent, '.php' ) ? $parent : 'admin.php';
		return add_query_arg( 'page', $this->options['page_slug'], admin_url( $base ) );
	}

	/**
	 * Return the notice's HTML: the text of PROTOCOL §6 with the link, escaped.
	 *
	 * @return string
	 */
	public function notice_html() {
		$link = '<a href="' . esc_url( $this->page_url() ) . '">' . esc_html__( 'theme options page', 'lcwp-license' ) . '</a>';
		/* translators: 1: the theme's name, 2: a link labelled "theme options page". */
		$text   = esc_html__( '%1$s License is not validated, Go to the %2$s to validate the license, You need a single license for each domain name.', 'lcwp-license' );
		$html   = sprintf( $text, esc_html( $this->options['name'] ), $link );
		$status = $this->client->status();
		if ( 'DOMAIN_CHANGED' === $status['code'] ) {
			$html .= ' ' . esc_html__( "This site's address changed; activate it or move the licence.", 'lcwp-license' );
		}
		return $html;
	}

	/** Print the admin notice to users who can manage the licence, unless validated. */
	public function admin_notice() {
		if ( ! current_user_can( $this->options['capability'] ) || $this->client->is_valid() ) {
			return;
		}
		$html = $this->notice_html();
		if ( function_exists( 'wp_admin_notice' ) ) {
			wp_admin_notice(
				$html,
				array(
					'type'               => 'warning',
					'additional_classes' => array( 'lcwp-license-notice' ),
				)
			);
			return;
		}
		echo '<div class="notice notice-warning lcwp-license-notice"><p>' . $html . '</p></div>'; // phpcs:ignore WordPress.Security.EscapeOutput -- escaped in notice_html()
	}

	/** Print the notice on public pages when the product asks (never on development hosts). */
	public function public_notice() {
		if ( $this->client->development || $this->client->is_valid() ) {
			return;
		}
		echo '<div class="lcwp-license-notice" role="alert" style="background:#b32d2e;color:#fff;padding:10px 16px;font:14px/1.4 sans-serif">' . $this->notice_html() . '</div>'; // phpcs:ignore WordPress.Security.EscapeOutput -- escaped in notice_html()
	}

	/** Handle Activate, Deactivate and Check now (admin-post.php). */
	public function handle_post() {
		if ( ! current_user_can( $this->options['capability'] ) ) {
			wp_die( esc_html__( 'You are not allowed to manage this license.', 'lcwp-license' ), '', array( 'response' => 403 ) );
		}
		check_admin_referer( self::ACTION );
		$op = isset( $_POST['lcwp_op'] ) ? sanitize_key( wp_unslash( $_POST['lcwp_op'] ) ) : '';
		if ( 'activate' === $op ) {
			$key     = isset( $_POST['lcwp_key'] ) ? sanitize_text_field( wp_unslash( $_POST['lcwp_key'] ) ) : '';
			$env     = function_exists( 'wp_get_environment_type' ) ? wp_get_environment_type() : null;
			$outcome = $this->client->activate( $key, $env );
		} elseif ( 'deactivate' === $op ) {
			$held    = $this->holds_seat( $this->client->status() );
			$outcome = $this->client->deactivate();
			if ( ! $held && 'DEACTIVATED' === $outcome['code'] ) {
				$outcome['code'] = 'KEY_REMOVED'; // nothing was active here: say what happened
			}
		} elseif ( 'check' === $op ) {
			$outcome = $this->client->refresh();
		} else {
			$outcome = array( 'code' => 'BAD_REQUEST' );
		}
		do_action( 'lcwp_license_changed', $outcome );
		$url = add_query_arg( 'lcwp_result', rawurlencode( $outcome['code'] ), $this->page_url() );
		if ( isset( $outcome['why'] ) ) {
			$url = add_query_arg( 'lcwp_why', rawurlencode( $outcome['why'] ), $url );
		}
		wp_safe_redirect( $url );
		exit;
	}

	/** Render the licence page (or a tab of the author's own options page). */
	public function render_page() {
		if ( ! current_user_can( $this->options['capability'] ) ) {
			return;
		}
		$status = $this->client->status();
		/* translators: %s: the theme's or plugin's name. */
		echo '<div class="wrap lcwp-license"><h1>' . esc_html( sprintf( __( '%s License', 'lcwp-license' ), $this->options['name'] ) ) . '</h1>';
		if ( isset( $_GET['lcwp_result'] ) ) { // phpcs:ignore WordPress.Security.NonceVerification -- display only
			$code = sanitize_key( wp_unslash( $_GET['lcwp_result'] ) ); // phpcs:ignore WordPress.Security.NonceVerification
			$ok   = in_array( strtoupper( $code ), array( 'VALID', 'DEACTIVATED', 'KEY_REMOVED' ), true );
			$why  = isset( $_GET['lcwp_why'] ) ? sanitize_key( wp_unslash( $_GET['lcwp_why'] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification
			$hint = 'UNTRUSTED_ANSWER' === strtoupper( $code ) ? $this->untrusted_hint( $why, $status['domain'] ) : '';
			echo '<div class="notice ' . ( $ok ? 'notice-success' : 'notice-error' ) . ' lcwp-result"><p>' . esc_html( trim( $this->message( strtoupper( $code ) ) . ' ' . $hint ) ) . '</p></div>';
		}
		echo '<p class="lcwp-state"><strong>' . esc_html__( 'Status:', 'lcwp-license' ) . '</strong> ' . esc_html( $this->state_words( $status ) ) . '</p>';
		foreach ( $this->details( $status ) as $line ) {
			echo '<p class="lcwp-detail">' . esc_html( $line ) . '</p>';
		}
		echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '">';
		echo '<input type="hidden" name="action" value="' . esc_attr( self::ACTION ) . '">';
		wp_nonce_field( self::ACTION );
		if ( null === $status['key'] ) {
			$this->key_field( __( 'License key', 'lcwp-license' ), true );
		} else {
			echo '<p>' . esc_html__( 'License key:', 'lcwp-license' ) . ' <code class="lcwp-masked">' . esc_html( Lcwp_Key::mask( $status['key'] ) ) . '</code></p>';
			$held = $this->holds_seat( $status );
			echo '<p><button type="submit" class="button' . ( $held ? ' button-primary' : '' ) . '" name="lcwp_op" value="check">' . esc_html__( 'Check now', 'lcwp-license' ) . '</button> ';
			if ( $held ) {
				echo '<button type="submit" class="button" name="lcwp_op" value="deactivate">' . esc_html__( 'Deactivate', 'lcwp-license' ) . '</button></p>';
			} else {
				echo '<button type="submit" class="button" name="lcwp_op" value="deactivate">' . esc_html__( 'Remove this key', 'lcwp-license' ) . '</button></p>';
			}
			if ( Lcwp_Client::INVALID === $status['state'] ) {
				// a refused key must not trap the owner: another key can be activated at once
				$this->key_field( __( 'Use another license key', 'lcwp-license' ), ! $held );
			}
		}
		echo '</form></div>';
	}

	/**
	 * Print the key field and its Activate button.
	 *
	 * @param string $label   The field's label.
	 * @param bool   $primary Whether Activate is the page's main button.
	 */
	private function key_field( $label, $primary ) {
		echo '<p><label for="lcwp_key">' . esc_html( $label ) . '</label><br>';
		echo '<input type="text" class="regular-text code" id="lcwp_key" name="lcwp_key" autocomplete="off" spellcheck="false" placeholder="XXX-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX"></p>';
		echo '<p><button type="submit" class="button' . ( $primary ? ' button-primary' : '' ) . '" name="lcwp_op" value="activate">' . esc_html__( 'Activate', 'lcwp-license' ) . '</button></p>';
	}

	/**
	 * Whether the stored key may hold a seat for this domain on the server.
	 *
	 * A key the server refused for this domain (unknown, another product's, every seat
	 * taken, this domain not activated) holds none: removing it frees nothing, so the
	 * page offers "Remove this key" instead of "Deactivate".
	 *
	 * @param array $status Lcwp_Client::status().
	 * @return bool
	 */
	public function holds_seat( array $status ) {
		if ( null === $status['key'] ) {
			return false;
		}
		return Lcwp_Client::INVALID !== $status['state'] || ! in_array( $status['code'], array( 'NOT_FOUND', 'PRODUCT_MISMATCH', 'ACTIVATION_LIMIT_REACHED', 'DOMAIN_NOT_ACTIVATED' ), true );
	}

	/**
	 * Return the state in plain words.
	 *
	 * @param array $status Lcwp_Client::status().
	 * @return string
	 */
	public function state_words( array $status ) {
		if ( Lcwp_Client::VALID === $status['state'] ) {
			$until = isset( $status['lic']['expires_at'] ) ? $status['lic']['expires_at'] : null;
			if ( null === $until ) {
				return __( 'Valid (no expiry date).', 'lcwp-license' );
			}
			/* translators: %s: a date. */
			return sprintf( __( 'Valid until %s.', 'lcwp-license' ), $this->date( strtotime( $until ) ) );
		}
		if ( 'NO_LICENSE' === $status['code'] ) {
			return __( 'Not validated: no license key has been activated on this site.', 'lcwp-license' );
		}
		return $this->message( $status['code'] );
	}

	/**
	 * Return extra lines: when last confirmed, grace, an unreachable server.
	 *
	 * @param array $status Lcwp_Client::status().
	 * @return string[]
	 */
	public function details( array $status ) {
		$lines = array();
		/* translators: %s: the site's canonical domain. */
		$lines[] = sprintf( __( 'Domain: %s', 'lcwp-license' ), '' === $status['domain'] ? __( '(this address cannot be licensed)', 'lcwp-license' ) : $status['domain'] );
		if ( null !== $status['checked_at'] && Lcwp_Client::VALID === $status['state'] ) {
			/* translators: %s: a date and time. */
			$lines[] = sprintf( __( 'Last confirmed by the license server: %s.', 'lcwp-license' ), $this->date( $status['checked_at'], true ) );
		} elseif ( null !== $status['checked_at'] ) {
			/* translators: %s: a date and time. */
			$lines[] = sprintf( __( 'Last answer of the license server: %s.', 'lcwp-license' ), $this->date( $status['checked_at'], true ) );
		}
		if ( $status['failures'] > 0 && 'NETWORK_ERROR' === $status['last_error'] && null !== $status['failing_since'] ) {
			/* translators: %s: a date and time. */
			$lines[] = sprintf( __( 'The license server has been unreachable since %s.', 'lcwp-license' ), $this->date( $status['failing_since'], true ) );
		} elseif ( $status['failures'] > 0 && null !== $status['last_error'] ) {
			/* translators: %s: why the last check failed. */
			$lines[] = sprintf( __( 'The last check failed: %s', 'lcwp-license' ), $this->message( $status['last_error'] ) );
		}
		if ( $status['in_grace'] && null !== $status['trusted_until'] ) {
			/* translators: %s: a date. */
			$lines[] = sprintf( __( 'The license stays trusted until %s unless the server confirms it sooner.', 'lcwp-license' ), $this->date( $status['trusted_until'] ) );
		}
		return $lines;
	}

	/**
	 * Return the plain-words message for a result code.
	 *
	 * @param string $code Server or client code.
	 * @return string
	 */
	public function message( $code ) {
		$messages = array(
			'VALID'                    => __( 'The license is valid for this domain.', 'lcwp-license' ),
			'NOT_FOUND'                => __( 'No license with this key exists for this product.', 'lcwp-license' ),
			'PRODUCT_MISMATCH'         => __( 'This license key belongs to another product.', 'lcwp-license' ),
			'REVOKED'                  => __( 'Revoked: this license has been revoked.', 'lcwp-license' ),
			'SUSPENDED'                => __( 'Suspended: this license is suspended.', 'lcwp-license' ),
			'EXPIRED'                  => __( 'Expired: this license has expired.', 'lcwp-license' ),
			'DOMAIN_NOT_ACTIVATED'     => __( 'This domain is not activated for this license.', 'lcwp-license' ),
			'ACTIVATION_LIMIT_REACHED' => __( 'Every domain this license allows is taken; deactivate the license on another site first.', 'lcwp-license' ),
			'NO_LICENSE'               => __( 'No license has been activated on this site.', 'lcwp-license' ),
			'DEACTIVATED'              => __( 'The license was deactivated on this domain.', 'lcwp-license' ),
			'KEY_REMOVED'              => __( 'The license key was removed from this site; you can enter another one.', 'lcwp-license' ),
			'INVALID_KEY_FORMAT'       => __( 'That is not a valid license key; check it for typos.', 'lcwp-license' ),
			'NETWORK_ERROR'            => __( 'The license server could not be reached; try again later.', 'lcwp-license' ),
			'BAD_ANSWER'               => __( "The license server's answer could not be read.", 'lcwp-license' ),
			'UNTRUSTED_ANSWER'         => __( "The license server's answer could not be verified.", 'lcwp-license' ),
			'TOKEN_EXPIRED'            => __( 'Not validated: the license has not been confirmed for too long.', 'lcwp-license' ),
			'CLOCK_ROLLBACK'           => __( "Not validated: this server's clock is behind.", 'lcwp-license' ),
			'STORE_ERROR'              => __( 'The license state could not be saved.', 'lcwp-license' ),
			'DOMAIN_CHANGED'           => __( "This site's address changed; activate it or move the licence.", 'lcwp-license' ),
			'DOMAIN_UNSUPPORTED'       => __( "This site's address cannot be licensed (an international domain needs PHP's intl extension).", 'lcwp-license' ),
			'RATE_LIMITED'             => __( 'Too many attempts; try again in a minute.', 'lcwp-license' ),
		);
		if ( isset( $messages[ $code ] ) ) {
			return $messages[ $code ];
		}
		/* translators: %s: a result code. */
		return sprintf( __( 'The license server answered %s.', 'lcwp-license' ), $code );
	}

	/**
	 * Return what to check when an answer failed verification, by the check that failed.
	 *
	 * A theme built for another vendor or product, or one that does not pin the key the
	 * server signs with now, fails every answer: the owner can only tell the vendor.
	 *
	 * @param string $why    Lcwp_Token_Error::$reason (lower case).
	 * @param string $domain This site's canonical domain.
	 * @return string
	 */
	public function untrusted_hint( $why, $domain ) {
		if ( 'key_unknown' === $why || 'signature' === $why ) {
			return __( 'It is signed with a key this theme does not know: update the theme, or ask its vendor for a version that pins their current key.', 'lcwp-license' );
		}
		if ( 'claim_iss' === $why || 'claim_aud' === $why ) {
			return __( "It is for another vendor or product than this theme's license client was built for: ask the theme's vendor (the client is rebuilt with license-server wp-client).", 'lcwp-license' );
		}
		if ( 'claim_dom' === $why ) {
			/* translators: %s: the site's canonical domain. */
			return sprintf( __( "It is for another domain than this site's (%s): check the site's address under Settings, General.", 'lcwp-license' ), $domain );
		}
		return '';
	}

	/**
	 * Format a time in the site's format and timezone.
	 *
	 * @param int|false $timestamp Epoch seconds.
	 * @param bool      $with_time Include the time.
	 * @return string
	 */
	private function date( $timestamp, $with_time = false ) {
		if ( false === $timestamp ) {
			return '?';
		}
		$format = get_option( 'date_format' ) . ( $with_time ? ' ' . get_option( 'time_format' ) : '' );
		return wp_date( $format, (int) $timestamp );
	}
}
