<?php
/**
 * Without native Ed25519 the verifier loads WordPress's bundled sodium_compat and
 * still verifies genuine tokens and refuses forged ones. Runs a child PHP with
 * sodium_crypto_sign_verify_detached disabled and sodium_compat told not to fall back on
 * the extension; it also prints the time one pure-PHP verification took.
 */

use PHPUnit\Framework\TestCase;

final class SodiumCompatTest extends TestCase {
	const WORDPRESS = '/usr/share/wordpress/';

	private function child( $token ) {
		$script = tempnam( sys_get_temp_dir(), 'lcwp' );
		$client = dirname( __DIR__, 3 ) . '/client/wordpress/includes/';
		$keys   = var_export( Fake_Server::keys(), true );
		$code   = '<?php
define( "ABSPATH", ' . var_export( self::WORDPRESS, true ) . ' );
define( "WPINC", "wp-includes" );
// the pure-PHP code, never the extension underneath (what a host without ext-sodium runs)
require ABSPATH . WPINC . "/sodium_compat/autoload.php";
ParagonIE_Sodium_Compat::$disableFallbackForUnitTests = true;
require ' . var_export( $client . 'class-lcwp-token.php', true ) . ';
$verifier = new Lcwp_Token( ' . $keys . ', "acme-themes", "jannah", "shop-one.com" );
$start = microtime( true );
try {
	$claims = $verifier->verify( $argv[1] );
	$result = $claims["code"];
} catch ( Lcwp_Token_Error $error ) {
	$result = $error->reason;
}
$ms = ( microtime( true ) - $start ) * 1000;
$compat = class_exists( "ParagonIE_Sodium_Compat", false ) ? "compat" : "native";
echo json_encode( array( $result, $compat, $ms ) );';
		file_put_contents( $script, $code );
		$command = escapeshellarg( PHP_BINARY ) . ' -d disable_functions=sodium_crypto_sign_verify_detached ' . escapeshellarg( $script ) . ' ' . escapeshellarg( $token );
		$output  = shell_exec( $command );
		unlink( $script );
		return json_decode( (string) $output, true );
	}

	public function test_sodium_compat_verifies_and_refuses() {
		if ( ! is_readable( self::WORDPRESS . 'wp-includes/sodium_compat/autoload.php' ) ) {
			$this->markTestSkipped( "Debian's wordpress (sodium_compat) is not installed" );
		}
		$server  = new Fake_Server( new Test_Clock() );
		$genuine = Fake_Server::sign( $server->claims( array( 'domain' => 'shop-one.com' ) ) );
		$good    = $this->child( $genuine );
		$this->assertSame( array( 'VALID', 'compat' ), array_slice( $good, 0, 2 ), 'verified through sodium_compat' );
		$parts    = explode( '.', $genuine );
		$forged   = $parts[0] . '.' . Lcwp_Token::b64url_encode( json_encode( $server->claims( array( 'domain' => 'shop-one.com' ), array( 'sub' => 'x' ) ) ) ) . '.' . $parts[2];
		$refused  = $this->child( $forged );
		$this->assertSame( array( 'signature', 'compat' ), array_slice( $refused, 0, 2 ) );
	}
}
