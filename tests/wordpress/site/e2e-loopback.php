<?php
/*
 * TEST ONLY, never shipped: loopback allowances for the e2e harness, a guard that
 * refuses every HTTP request WordPress would send anywhere but 127.0.0.1, and a log
 * of every request (sent, blocked by WP_HTTP_BLOCK_EXTERNAL, or refused here).
 */

function e2e_log_request( $url, $outcome ) {
	$line = wp_json_encode( array( 'url' => (string) $url, 'outcome' => $outcome ) ) . "\n";
	file_put_contents( LICENSE_E2E_HTTP_LOG, $line, FILE_APPEND | LOCK_EX );
}

add_filter( 'pre_http_request', function ( $pre, $args, $url ) {
	if ( false !== $pre ) {
		return $pre;
	}
	if ( '127.0.0.1' !== wp_parse_url( $url, PHP_URL_HOST ) ) {
		e2e_log_request( $url, 'refused' );
		return new WP_Error( 'e2e_loopback_only', 'The e2e harness sends requests to 127.0.0.1 only.' );
	}
	return $pre;
}, PHP_INT_MAX, 3 );

add_action( 'http_api_debug', function ( $response, $context, $class, $args, $url ) {
	$blocked = is_wp_error( $response )
		&& 'http_request_not_executed' === $response->get_error_code();
	e2e_log_request( $url, $blocked ? 'blocked' : 'sent' );
}, 10, 5 );

add_filter( 'http_request_host_is_external', function ( $external, $host ) {
	return '127.0.0.1' === $host ? true : $external;
}, 10, 2 );

add_filter( 'http_allowed_safe_ports', function ( $ports ) {
	$ports[] = LICENSE_E2E_PORT;
	return $ports;
} );

add_filter( 'wp_signature_hosts', function ( $hosts ) {
	$hosts[] = '127.0.0.1';
	return $hosts;
} );

add_filter( 'acme_license_options', function ( $options ) {
	$offset = (int) get_option( 'e2e_clock_offset', 0 );
	if ( 0 !== $offset ) {
		$options['clock'] = function () use ( $offset ) {
			return time() + $offset;
		};
	}
	return $options;
} );
