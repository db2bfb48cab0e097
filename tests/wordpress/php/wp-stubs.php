<?php
/**
 * The few WordPress functions the Admin and Updates tests reach, with WordPress's
 * semantics (escaping as esc_html does; options in memory, autoload recorded).
 */

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
if ( ! function_exists( 'get_option' ) ) {
	$GLOBALS['lcwp_test_options'] = array();
	function get_option( $name, $default = false ) {
		return array_key_exists( $name, $GLOBALS['lcwp_test_options'] ) ? $GLOBALS['lcwp_test_options'][ $name ] : $default;
	}
	function add_option( $name, $value, $unused = '', $autoload = 'yes' ) {
		$GLOBALS['lcwp_test_options'][ $name ] = $value;
		$GLOBALS['lcwp_test_autoload'][ $name ] = $autoload;
		return true;
	}
	function update_option( $name, $value, $autoload = null ) {
		$GLOBALS['lcwp_test_options'][ $name ] = $value;
		return true;
	}
	function delete_option( $name ) {
		unset( $GLOBALS['lcwp_test_options'][ $name ] );
		return true;
	}
	function __( $text, $domain = 'default' ) {
		return $text;
	}
	function wp_json_encode( $data ) {
		return json_encode( $data );
	}
}
if ( ! function_exists( 'esc_html' ) ) {
	function esc_html( $text ) {
		return htmlspecialchars( (string) $text, ENT_QUOTES, 'UTF-8' );
	}
	function esc_attr( $text ) {
		return esc_html( $text );
	}
	function esc_url( $url ) {
		return 0 === strpos( $url, 'javascript:' ) ? '' : esc_html( $url );
	}
	function esc_html__( $text, $domain ) {
		return esc_html( $text );
	}
	function add_query_arg( $key, $value, $url ) {
		return $url . ( false === strpos( $url, '?' ) ? '?' : '&' ) . $key . '=' . $value;
	}
	function admin_url( $path ) {
		return 'https://shop-one.com/wp-admin/' . $path;
	}
	function add_action() {
	}
	function current_user_can( $capability ) {
		return 'switch_themes' === $capability;
	}
}
if ( ! function_exists( 'wp_nonce_field' ) ) {
	function wp_nonce_field( $action ) {
		echo '<input type="hidden" name="_wpnonce" value="test-nonce">';
	}
	function wp_date( $format, $timestamp ) {
		return gmdate( 'Y-m-d H:i', $timestamp );
	}
	function wp_unslash( $value ) {
		return $value;
	}
}
if ( ! function_exists( 'wp_get_theme' ) ) {
	/** The installed version a test sets in $GLOBALS['lcwp_test_theme_versions'][ $slug ]. */
	function wp_get_theme( $slug ) {
		return new class( $slug ) {
			private $slug;
			public function __construct( $slug ) {
				$this->slug = $slug;
			}
			public function get( $header ) {
				$versions = isset( $GLOBALS['lcwp_test_theme_versions'] ) ? $GLOBALS['lcwp_test_theme_versions'] : array();
				return 'Version' === $header && isset( $versions[ $this->slug ] ) ? $versions[ $this->slug ] : false;
			}
		};
	}
}
if ( ! function_exists( 'get_bloginfo' ) ) {
	function get_bloginfo( $show ) {
		return 'version' === $show ? '6.1.9' : '';
	}
	function get_locale() {
		return 'en_US';
	}
}
