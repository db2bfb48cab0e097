<?php
/**
 * License client for a WordPress theme or plugin: the one file to require.
 *
 *     require_once __DIR__ . '/lcwp-license/license-client.php';
 *     Lcwp_License::boot( array( 'name' => 'My Theme' ) );
 *
 * Boot options (all optional; config.php, written by the build step, holds the
 * server, the product and the pinned keys):
 * - type: 'theme' (default) or 'plugin'; file: the plugin's main file (plugins).
 * - name: the display name in the notice and on the page (default: the product name).
 * - page_parent: the menu the licence page goes under ('themes.php' for themes,
 *   'options-general.php' for plugins), or false when the author renders the page
 *   in a tab of their own options page with Lcwp_License::admin()->render_page();
 *   then settings_url must say where that tab is.
 * - show_publicly: also show the notice on public pages (never on development hosts).
 * - updates: false to leave updates alone.
 *
 * @package Lcwp
 */

if ( ! defined( 'ABSPATH' ) && ! defined( 'LCWP_TESTING' ) ) {
	exit;
}

require_once __DIR__ . '/includes/class-lcwp-domain.php';
require_once __DIR__ . '/includes/class-lcwp-key.php';
require_once __DIR__ . '/includes/class-lcwp-token.php';
require_once __DIR__ . '/includes/class-lcwp-store.php';
require_once __DIR__ . '/includes/class-lcwp-client.php';
require_once __DIR__ . '/includes/class-lcwp-admin.php';
require_once __DIR__ . '/includes/class-lcwp-cron.php';
require_once __DIR__ . '/includes/class-lcwp-updates.php';

/** The one boot call, and access to the booted client. */
final class Lcwp_License {
	/** @var Lcwp_Client|null */
	private static $client;
	/** @var Lcwp_Admin|null */
	private static $admin;

	/**
	 * Boot the client: licence page, notices, re-validation and updates.
	 *
	 * @param array $options See the file's header.
	 * @return Lcwp_Client
	 */
	public static function boot( array $options = array() ) {
		if ( null !== self::$client ) {
			return self::$client;
		}
		$built   = require __DIR__ . '/config.php';
		$options = array_merge( $built, $options );
		$plugin  = isset( $options['type'] ) && 'plugin' === $options['type'];
		$options = array_merge(
			array(
				'type'          => 'theme',
				'name'          => $options['product_name'],
				'capability'    => $plugin ? 'activate_plugins' : 'switch_themes',
				'page_parent'   => $plugin ? 'options-general.php' : 'themes.php',
				'page_slug'     => 'lcwp-license',
				'settings_url'  => '',
				'show_publicly' => false,
				'updates'       => true,
				'file'          => '',
				'slug'          => $plugin ? '' : basename( dirname( __DIR__ ) ),
			),
			$options
		);
		if ( $plugin && '' === $options['slug'] && '' !== $options['file'] ) {
			$options['slug'] = plugin_basename( $options['file'] );
		}
		/**
		 * Filters the client's options before it starts (e.g. show_publicly per site).
		 *
		 * @param array $options Boot options merged over config.php.
		 */
		$options            = apply_filters( 'lcwp_license_options', $options );
		$options['domain']  = home_url();
		$options['version'] = self::installed_version( $options );
		$options['salt']    = function_exists( 'wp_salt' ) ? wp_salt( 'auth' ) : ( defined( 'AUTH_KEY' ) ? AUTH_KEY : '' );
		$store              = new Lcwp_Option_Store( 'lcwp_license_' . sanitize_key( $options['product'] ) );
		self::$client       = new Lcwp_Client( $options, $store );
		self::$admin        = new Lcwp_Admin( self::$client, $options );
		self::$admin->register();
		$cron = new Lcwp_Cron( self::$client, 'lcwp_license_revalidate_' . sanitize_key( $options['product'] ) );
		$cron->register();
		if ( $options['updates'] && '' !== $options['slug'] ) {
			$updates = new Lcwp_Updates( self::$client, $options );
			$updates->register();
		}
		add_action( 'init', array( __CLASS__, 'load_textdomain' ) );
		return self::$client;
	}

	/** Load the translations shipped in languages/. */
	public static function load_textdomain() {
		$locale = function_exists( 'determine_locale' ) ? determine_locale() : get_locale();
		load_textdomain( 'lcwp-license', __DIR__ . '/languages/lcwp-license-' . $locale . '.mo' );
	}

	/**
	 * Return the booted client (null before boot()).
	 *
	 * @return Lcwp_Client|null
	 */
	public static function client() {
		return self::$client;
	}

	/**
	 * Return the screens (for render_page() in the author's own tab).
	 *
	 * @return Lcwp_Admin|null
	 */
	public static function admin() {
		return self::$admin;
	}

	/**
	 * Whether the product is licensed on this site now (offline, cheap).
	 *
	 * @return bool
	 */
	public static function is_valid() {
		return null !== self::$client && self::$client->is_valid();
	}

	/**
	 * Return the installed version of the theme or plugin.
	 *
	 * @param array $options Boot options.
	 * @return string
	 */
	private static function installed_version( array $options ) {
		if ( 'plugin' === $options['type'] ) {
			if ( '' === $options['file'] || ! function_exists( 'get_file_data' ) ) {
				return '';
			}
			$data = get_file_data( $options['file'], array( 'Version' => 'Version' ) );
			return (string) $data['Version'];
		}
		return (string) wp_get_theme( $options['slug'] )->get( 'Version' );
	}
}
