<?php
/**
 * Licence-gated updates through WordPress's own screens (PROTOCOL §7, docs/UPDATES.md).
 *
 * The server's POST /v1/updates/check answer is verified like a licence answer (pinned
 * key, nonce, kh, and its upd claim must match the version and package used) and
 * kept in a non-autoloaded option. It reaches WordPress twice: through the
 * update_{themes|plugins}_{host} filter (when WordPress's own check ran) and at read
 * time through site_transient_update_{themes|plugins}, because WordPress skips the host
 * filters when api.wordpress.org cannot be reached. The product is removed from the
 * request sent to wordpress.org, a "no update" entry keeps the auto-update toggle, and
 * a site without entitlement sees the version, the server's reason and the renewal
 * link instead of a package. Packages are verified by WordPress's verify_file_signature()
 * with the vendor's release keys; failures are fatal when sodium is native.
 *
 * @package Lcwp
 */

if ( ! defined( 'ABSPATH' ) && ! defined( 'LCWP_TESTING' ) ) {
	exit;
}

/** The update side of one licence client. */
class Lcwp_Updates {
	const MIN_RECHECK = 300; // seconds between two checks of one WordPress update run

	/** @var Lcwp_Client */
	private $client;
	/** @var array Boot options (type, slug, version, release_keys, server_url, product). */
	private $options;
	/** @var string The option holding the last trusted answer. */
	private $option;
	/** @var string The licence server's host. */
	private $host;
	/** @var string|null The installed version this request asked the server about (core saves the transient twice). */
	private $asked = null;

	/**
	 * @param Lcwp_Client $client  The licence logic.
	 * @param array       $options Boot options.
	 */
	public function __construct( Lcwp_Client $client, array $options ) {
		$this->client  = $client;
		$this->options = $options;
		$this->option  = 'lcwp_updates_' . sanitize_key( $options['product'] );
		$this->options['server_url'] = rtrim( $options['server_url'], '/' );
		$this->host                  = (string) wp_parse_url( $options['server_url'], PHP_URL_HOST );
	}

	/** Hook into WordPress's update machinery. */
	public function register() {
		$kind = $this->is_plugin() ? 'plugins' : 'themes';
		add_filter( "pre_set_site_transient_update_$kind", array( $this, 'on_wordpress_check' ) );
		add_filter( "site_transient_update_$kind", array( $this, 'inject' ) );
		add_filter( "update_{$kind}_{$this->host}", array( $this, 'host_update' ), 10, 3 );
		add_filter( 'http_request_args', array( $this, 'hide_from_wordpress_org' ), 10, 2 );
		add_filter( 'wp_trusted_keys', array( $this, 'trusted_keys' ) );
		add_filter( 'wp_signature_hosts', array( $this, 'signature_hosts' ) );
		add_filter( 'wp_signature_url', array( $this, 'signature_url' ), 10, 2 );
		add_filter( 'wp_signature_softfail', array( $this, 'softfail' ), 10, 2 );
		add_action( 'lcwp_license_changed', array( $this, 'forget' ) );
		add_action( 'admin_notices', array( $this, 'reason_notice' ) );
		if ( $this->is_plugin() ) {
			add_filter( 'plugins_api', array( $this, 'plugin_information' ), 10, 3 );
		} else {
			add_filter( 'wp_prepare_themes_for_js', array( $this, 'themes_screen' ) );
		}
	}

	/**
	 * Ask the server now and keep the answer if it is trusted; return it (or null).
	 *
	 * @return array|null
	 */
	public function check() {
		$state = $this->client->state();
		if ( null === $state['license_key'] || '' === $this->client->domain ) {
			$this->store( null );
			return null;
		}
		$nonce = Lcwp_Token::b64url_encode( random_bytes( 18 ) );
		$body  = array(
			'license_key' => $state['license_key'],
			'domain'      => $this->client->domain,
			'product'     => $this->options['product'],
			'version'     => '' === $this->installed() ? '0' : $this->installed(),
			'wp_version'  => (string) get_bloginfo( 'version' ),
			'php_version' => PHP_VERSION,
			'locale'      => (string) get_locale(),
			'nonce'       => $nonce,
		);
		try {
			list( $status, $data ) = $this->client->post( 'updates/check', $body );
			$answer                = 200 === $status ? $this->trusted( $data, $nonce, $state['license_key'] ) : null;
		} catch ( Exception $error ) {
			$answer = null;
		}
		if ( null === $answer ) {
			$this->remember_attempt();
			return $this->stored();
		}
		$this->store( $answer );
		return $answer;
	}

	/**
	 * Return the answer's fields when its token verifies and its upd claim matches.
	 *
	 * @param array  $data  The answer.
	 * @param string $nonce The nonce sent.
	 * @param string $key   The key sent.
	 * @return array|null
	 */
	public function trusted( array $data, $nonce, $key ) {
		if ( ! isset( $data['token'] ) || ! is_string( $data['token'] ) ) {
			return null;
		}
		$verifier = new Lcwp_Token( (array) $this->options['keys'], $this->options['issuer'], $this->options['product'], $this->client->domain );
		try {
			$claims = $verifier->verify( $data['token'], $this->client->now(), $nonce, Lcwp_Key::hash( $key ) );
		} catch ( Lcwp_Token_Error $error ) {
			return null;
		}
		$upd     = self::raw_claim( $data['token'], 'upd' );
		$version = isset( $data['new_version'] ) && is_string( $data['new_version'] ) ? $data['new_version'] : null;
		$package = isset( $data['package'] ) && is_string( $data['package'] ) ? $data['package'] : null;
		if ( ! is_array( $upd ) || null === $version || ! isset( $upd['ver'] ) || $upd['ver'] !== $version || ( null !== $package ) !== ( true === $upd['pkg'] ) ) {
			return null; // the signed claim is the truth; unsigned fields that disagree are forged
		}
		if ( null !== $package && 0 !== strpos( $package, $this->options['server_url'] . '/' ) ) {
			return null; // packages come from the licence server only
		}
		$reason = isset( $data['reason'] ) && is_array( $data['reason'] ) ? $data['reason'] : null;
		return array(
			'checked_at'       => $this->client->now(),
			'installed'        => $this->installed(),
			'update_available' => ! empty( $data['update_available'] ),
			'new_version'      => $version,
			'latest_version'   => isset( $data['latest_version'] ) && is_string( $data['latest_version'] ) ? $data['latest_version'] : $version,
			'package'          => $package,
			'url'              => self::text( $data, 'url' ),
			'requires'         => self::text( $data, 'requires' ),
			'requires_php'     => self::text( $data, 'requires_php' ),
			'tested'           => self::text( $data, 'tested' ),
			'homepage'         => self::text( $data, 'homepage' ),
			'last_updated'     => self::text( $data, 'last_updated' ),
			'name'             => self::text( $data, 'name' ),
			'sections'         => isset( $data['sections'] ) && is_array( $data['sections'] ) ? array_map( 'strval', $data['sections'] ) : array(),
			'banners'          => isset( $data['banners'] ) && is_array( $data['banners'] ) ? $data['banners'] : array(),
			'icons'            => isset( $data['icons'] ) && is_array( $data['icons'] ) ? $data['icons'] : array(),
			'reason_code'      => null === $reason ? null : self::text( $reason, 'code' ),
			'reason'           => null === $reason ? null : self::text( $reason, 'message' ),
			'renewal_url'      => null === $reason ? null : self::text( $reason, 'renewal_url' ),
			'valid'            => $claims['valid'],
		);
	}

	/**
	 * pre_set_site_transient: WordPress is checking (cron or admin); check too, then inject.
	 *
	 * @param mixed $transient The value about to be saved.
	 * @return mixed
	 */
	public function on_wordpress_check( $transient ) {
		$stored    = $this->stored();
		$installed = $this->installed();
		$forced    = isset( $_GET['force-check'] ); // phpcs:ignore WordPress.Security.NonceVerification -- core's own flag
		// an answer for another installed version (the update just ran) is stale at once
		$stale = null === $stored || $this->client->now() - $stored['checked_at'] >= self::MIN_RECHECK || $stored['installed'] !== $installed;
		if ( $installed !== $this->asked && ( $forced || $stale ) ) {
			$this->asked = $installed;
			$this->check();
		}
		return $this->inject( $transient );
	}

	/**
	 * update_{kind}_{host}: answer WordPress's host hook from the stored answer.
	 *
	 * @param mixed  $update Earlier filter's answer.
	 * @param array  $data   The theme's or plugin's headers.
	 * @param string $slug   Stylesheet or plugin basename.
	 * @return mixed
	 */
	public function host_update( $update, $data, $slug ) {
		if ( $slug !== $this->options['slug'] ) {
			return $update;
		}
		$entry = $this->entry();
		return null === $entry ? $update : array_merge( (array) $entry, array( 'version' => is_array( $entry ) ? $entry['new_version'] : $entry->new_version ) );
	}

	/**
	 * site_transient_update_*: put the stored answer into what WordPress reads (no network).
	 *
	 * @param mixed $transient The transient value.
	 * @return mixed
	 */
	public function inject( $transient ) {
		$stored    = $this->stored();
		$installed = $this->installed();
		if ( null === $stored || $stored['installed'] !== $installed ) {
			// nothing known, or the answer was for another installed version: never keep
			// offering the version that is installed now (WordPress saved it before the update)
			return $this->without_stale_offer( $transient, $installed );
		}
		if ( ! is_object( $transient ) ) {
			$transient = new stdClass();
		}
		foreach ( array( 'response', 'no_update', 'checked' ) as $field ) {
			if ( ! isset( $transient->$field ) || ! is_array( $transient->$field ) ) {
				$transient->$field = array();
			}
		}
		$slug = $this->options['slug'];
		unset( $transient->response[ $slug ], $transient->no_update[ $slug ] );
		$entry = $this->entry();
		if ( $stored['update_available'] && version_compare( $stored['new_version'], $stored['installed'], '>' ) ) {
			$transient->response[ $slug ] = $entry;
		} else {
			$transient->no_update[ $slug ] = $entry; // so the auto-update toggle shows
		}
		$transient->checked[ $slug ] = $stored['installed'];
		return $transient;
	}

	/**
	 * Remove our entry from a transient when it offers no version newer than the installed one.
	 *
	 * @param mixed  $transient The transient value.
	 * @param string $installed The installed version.
	 * @return mixed
	 */
	private function without_stale_offer( $transient, $installed ) {
		$slug = $this->options['slug'];
		if ( ! is_object( $transient ) || ! isset( $transient->response ) || ! is_array( $transient->response ) || ! isset( $transient->response[ $slug ] ) ) {
			return $transient;
		}
		$entry   = (array) $transient->response[ $slug ];
		$offered = isset( $entry['new_version'] ) ? (string) $entry['new_version'] : '';
		if ( '' !== $installed && ! version_compare( $offered, $installed, '>' ) ) {
			unset( $transient->response[ $slug ] );
		}
		return $transient;
	}

	/**
	 * Return the version installed now (read again: an update changes it mid-request).
	 *
	 * @return string
	 */
	public function installed() {
		$version = '';
		if ( $this->is_plugin() ) {
			$file = isset( $this->options['file'] ) ? (string) $this->options['file'] : '';
			if ( '' !== $file && function_exists( 'get_file_data' ) && is_readable( $file ) ) {
				$data    = get_file_data( $file, array( 'Version' => 'Version' ) );
				$version = (string) $data['Version'];
			}
		} elseif ( function_exists( 'wp_get_theme' ) ) {
			$version = (string) wp_get_theme( $this->options['slug'] )->get( 'Version' );
		}
		return '' === $version ? (string) $this->options['version'] : $version;
	}

	/**
	 * Remove the product from the update request sent to api.wordpress.org.
	 *
	 * @param array  $args HTTP arguments.
	 * @param string $url  Request URL.
	 * @return array
	 */
	public function hide_from_wordpress_org( $args, $url ) {
		$kind = $this->is_plugin() ? 'plugins' : 'themes';
		if ( false === strpos( $url, "://api.wordpress.org/$kind/update-check/" ) || ! isset( $args['body'][ $kind ] ) ) {
			return $args;
		}
		$list = json_decode( $args['body'][ $kind ], true );
		if ( ! is_array( $list ) ) {
			return $args;
		}
		$slug = $this->options['slug'];
		if ( $this->is_plugin() ) {
			unset( $list['plugins'][ $slug ] );
			if ( isset( $list['active'] ) && is_array( $list['active'] ) ) {
				$list['active'] = array_values( array_diff( $list['active'], array( $slug ) ) );
			}
		} else {
			unset( $list['themes'][ $slug ] );
			if ( isset( $list['active'] ) && $list['active'] === $slug ) {
				$list['active'] = '';
			}
		}
		$args['body'][ $kind ] = wp_json_encode( $list );
		return $args;
	}

	/**
	 * wp_trusted_keys: add the vendor's release keys (standard base64, 32 bytes).
	 *
	 * @param array $keys Trusted keys.
	 * @return array
	 */
	public function trusted_keys( $keys ) {
		return array_values( array_unique( array_merge( (array) $keys, (array) $this->options['release_keys'] ) ) );
	}

	/**
	 * wp_signature_hosts: have WordPress verify packages from the licence server.
	 *
	 * @param array $hosts Host names.
	 * @return array
	 */
	public function signature_hosts( $hosts ) {
		if ( empty( $this->options['release_keys'] ) ) {
			return $hosts;
		}
		return array_values( array_unique( array_merge( (array) $hosts, array( $this->host ) ) ) );
	}

	/**
	 * wp_signature_url: our packages' signatures are at <package URL>.sig.
	 *
	 * @param mixed  $signature_url Core's guess.
	 * @param string $url           Package URL.
	 * @return mixed
	 */
	public function signature_url( $signature_url, $url ) {
		return $this->ours( $url ) ? strtok( $url, '?' ) . '.sig' : $signature_url;
	}

	/**
	 * wp_signature_softfail: refuse our unsigned or mis-signed packages when sodium is native.
	 *
	 * @param bool   $softfail Core's default (true).
	 * @param string $url      Package URL.
	 * @return bool
	 */
	public function softfail( $softfail, $url ) {
		if ( $this->ours( $url ) && ! empty( $this->options['release_keys'] ) && Lcwp_Token::native_sodium() ) {
			return false;
		}
		return $softfail;
	}

	/** Forget the stored answer (the licence changed) so the next check asks again. */
	public function forget() {
		delete_option( $this->option );
		delete_site_transient( $this->is_plugin() ? 'update_plugins' : 'update_themes' );
	}

	/**
	 * Return the words for an update the site may not install, or null.
	 *
	 * @return string|null
	 */
	public function reason_text() {
		$stored = $this->stored();
		if ( null === $stored || null !== $stored['package'] || null === $stored['reason'] || ! version_compare( $stored['latest_version'], $this->installed(), '>' ) ) {
			return null;
		}
		/* translators: 1: product name, 2: version, 3: the server's reason. */
		return sprintf( __( '%1$s %2$s is available, but this site cannot install it: %3$s', 'lcwp-license' ), $this->options['name'], $stored['latest_version'], $stored['reason'] );
	}

	/**
	 * Return the reason as HTML with the renewal link, or ''.
	 *
	 * @return string
	 */
	public function reason_html() {
		$text = $this->reason_text();
		if ( null === $text ) {
			return '';
		}
		$html   = esc_html( $text );
		$stored = $this->stored();
		if ( ! empty( $stored['renewal_url'] ) ) {
			$html .= ' <a class="lcwp-renew" href="' . esc_url( $stored['renewal_url'] ) . '">' . esc_html__( 'Renew your license', 'lcwp-license' ) . '</a>';
		}
		return $html;
	}

	/** On the Themes, Plugins and Updates screens: say why the update cannot be installed. */
	public function reason_notice() {
		$screen = function_exists( 'get_current_screen' ) ? get_current_screen() : null;
		if ( null === $screen || ! in_array( $screen->id, array( 'themes', 'plugins', 'update-core' ), true ) || ! current_user_can( $this->is_plugin() ? 'update_plugins' : 'update_themes' ) ) {
			return;
		}
		$html = $this->reason_html();
		if ( '' !== $html ) {
			echo '<div class="notice notice-warning lcwp-update-reason"><p>' . $html . '</p></div>'; // phpcs:ignore WordPress.Security.EscapeOutput -- escaped in reason_html()
		}
	}

	/**
	 * wp_prepare_themes_for_js: add the reason under "Automatic update is unavailable".
	 *
	 * @param array $themes Prepared themes.
	 * @return array
	 */
	public function themes_screen( $themes ) {
		$slug = $this->options['slug'];
		$html = $this->reason_html();
		if ( '' !== $html && isset( $themes[ $slug ] ) ) {
			$themes[ $slug ]['update']   = ( empty( $themes[ $slug ]['update'] ) ? '' : $themes[ $slug ]['update'] ) . '<p class="lcwp-update-reason">' . $html . '</p>';
			$themes[ $slug ]['hasUpdate'] = true;
		}
		return $themes;
	}

	/**
	 * plugins_api: the details modal of our plugin, from the stored answer.
	 *
	 * @param mixed  $result Earlier answer.
	 * @param string $action plugins_api action.
	 * @param object $args   Request (slug).
	 * @return mixed
	 */
	public function plugin_information( $result, $action, $args ) {
		$slug = dirname( $this->options['slug'] );
		if ( 'plugin_information' !== $action || ! isset( $args->slug ) || $args->slug !== $slug ) {
			return $result;
		}
		$stored = $this->stored();
		if ( null === $stored ) {
			return $result;
		}
		$sections = $stored['sections'];
		$reason   = $this->reason_html();
		if ( '' !== $reason ) {
			$sections['changelog'] = '<p>' . $reason . '</p>' . ( isset( $sections['changelog'] ) ? $sections['changelog'] : '' );
		}
		return (object) array(
			'name'          => '' === (string) $stored['name'] ? $this->options['name'] : $stored['name'],
			'slug'          => $slug,
			'version'       => $stored['latest_version'],
			'requires'      => $stored['requires'],
			'tested'        => $stored['tested'],
			'requires_php'  => $stored['requires_php'],
			'last_updated'  => $stored['last_updated'],
			'homepage'      => $stored['homepage'],
			'download_link' => null === $stored['package'] ? '' : $stored['package'],
			'sections'      => $sections,
			'banners'       => $stored['banners'],
			'icons'         => $stored['icons'],
		);
	}

	/**
	 * Return the transient entry (an array for themes, an object for plugins), or null.
	 *
	 * @return array|object|null
	 */
	public function entry() {
		$stored = $this->stored();
		if ( null === $stored ) {
			return null;
		}
		$offered = $stored['update_available'] ? $stored['new_version'] : $stored['installed'];
		$entry   = array(
			'new_version'  => $offered,
			'url'          => (string) $stored['url'],
			'package'      => null === $stored['package'] ? '' : $stored['package'],
			'requires'     => (string) $stored['requires'],
			'requires_php' => (string) $stored['requires_php'],
			'tested'       => (string) $stored['tested'],
		);
		if ( ! $this->is_plugin() ) {
			return array( 'theme' => $this->options['slug'] ) + $entry;
		}
		return (object) ( array(
			'id'     => $this->options['server_url'],
			'slug'   => dirname( $this->options['slug'] ),
			'plugin' => $this->options['slug'],
			'icons'  => $stored['icons'],
			'banners' => $stored['banners'],
		) + $entry );
	}

	/**
	 * Return the stored answer, or null.
	 *
	 * @return array|null
	 */
	public function stored() {
		$stored = get_option( $this->option, null );
		return is_array( $stored ) && isset( $stored['checked_at'], $stored['new_version'], $stored['installed'] ) && array_key_exists( 'package', $stored ) ? $stored : null;
	}

	/**
	 * Keep an answer (non-autoloaded), or remove it.
	 *
	 * @param array|null $answer The trusted answer.
	 */
	private function store( $answer ) {
		if ( null === $answer ) {
			delete_option( $this->option );
			return;
		}
		if ( false === get_option( $this->option, false ) ) {
			add_option( $this->option, $answer, '', 'no' );
			return;
		}
		update_option( $this->option, $answer, false );
	}

	/** Note a failed attempt so WordPress's next run does not hammer the server. */
	private function remember_attempt() {
		$stored = $this->stored();
		if ( null !== $stored ) {
			$stored['checked_at'] = $this->client->now();
			$this->store( $stored );
		}
	}

	/**
	 * Whether a URL is one of the licence server's.
	 *
	 * @param string $url URL.
	 * @return bool
	 */
	private function ours( $url ) {
		return is_string( $url ) && 0 === strpos( $url, $this->options['server_url'] . '/' );
	}

	/** @return bool */
	private function is_plugin() {
		return 'plugin' === $this->options['type'];
	}

	/**
	 * A string field of an answer, or null.
	 *
	 * @param array  $data Answer.
	 * @param string $name Field.
	 * @return string|null
	 */
	private static function text( array $data, $name ) {
		return isset( $data[ $name ] ) && is_scalar( $data[ $name ] ) ? (string) $data[ $name ] : null;
	}

	/**
	 * Read one claim of a token that has been verified already.
	 *
	 * @param string $token Compact JWT.
	 * @param string $name  Claim.
	 * @return mixed
	 */
	private static function raw_claim( $token, $name ) {
		$parts  = explode( '.', $token );
		$claims = json_decode( (string) Lcwp_Token::b64url_decode( $parts[1] ), true );
		return is_array( $claims ) && isset( $claims[ $name ] ) ? $claims[ $name ] : null;
	}
}
