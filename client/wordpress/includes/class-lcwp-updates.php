<?php
if ( ! defined( "ABSPATH" ) && ! defined( "LCWP_TESTING" ) ) { exit; }
/** Updates (filled in below). */
class Lcwp_Updates { public function __construct( $c, $o ) {} public function register() {} }
