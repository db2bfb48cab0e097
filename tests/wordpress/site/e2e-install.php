<?php
define( 'WP_INSTALLING', true );
require __DIR__ . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
$site = getenv( 'E2E_SITE' );
$user = getenv( 'E2E_USER' );
$password = getenv( 'E2E_PASSWORD' );
wp_install( 'Shop ' . ucfirst( $site ), $user, 'admin@' . $site . '.example', true, '', $password );
update_option( 'permalink_structure', '' );
echo 'installed';
