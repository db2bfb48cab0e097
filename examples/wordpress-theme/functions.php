<?php
/**
 * Acme Example: boots the license client built into acme-license/.
 *
 * Build that folder with (see README.md):
 *     license-server wp-client acme-example --prefix Acme --out acme-license --server-url http://127.0.0.1:8000
 *
 * @package Acme_Example
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

if ( is_readable( __DIR__ . '/acme-license/license-client.php' ) ) {
	require_once __DIR__ . '/acme-license/license-client.php';
	Acme_License::boot(
		array(
			'name'          => 'Acme Example',
			'show_publicly' => (bool) get_option( 'acme_example_public_notice', false ),
		)
	);
} else {
	add_action(
		'admin_notices',
		function () {
			echo '<div class="notice notice-error"><p>' . esc_html__( 'Acme Example: the license client is missing; run license-server wp-client (see the theme README).', 'acme-example' ) . '</p></div>';
		}
	);
}

add_action(
	'wp_enqueue_scripts',
	function () {
		wp_enqueue_style( 'acme-example', get_stylesheet_uri(), array(), wp_get_theme()->get( 'Version' ) );
	}
);

/**
 * Whether the theme is licensed here (what a theme gates its premium features on).
 *
 * @return bool
 */
function acme_example_is_licensed() {
	return class_exists( 'Acme_License' ) && Acme_License::is_valid();
}
