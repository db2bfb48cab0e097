<?php
/**
 * What the build step fills in: `license-server wp-client PRODUCT --prefix Acme --out DIR`.
 *
 * This unbuilt copy holds placeholders; a built copy holds the server URL, the
 * vendor's issuer, the product and the pinned public keys (kid => base64url "x").
 * To rotate a signing key, rebuild (both keys are pinned while the old one still
 * verifies) and ship a theme release before retiring the old key.
 *
 * @package Lcwp
 */

if ( ! defined( 'ABSPATH' ) && ! defined( 'LCWP_TESTING' ) ) {
	exit;
}

return array(
	'server_url'   => 'http://127.0.0.1:8000',
	'issuer'       => 'REPLACE-issuer',
	'product'      => 'REPLACE-product',
	'product_name' => 'REPLACE Product',
	'keys'         => array(),
	'release_keys' => array(),
	'dev_patterns' => array(),
);
