<?php
/**
 * Envato purchase codes through Lcwp_Key: accepted as typed, hashed as the server
 * does (docs/CHANNELS.md); the kh value is the server's key_hash_claim of the code.
 */

use PHPUnit\Framework\TestCase;

final class PurchaseCodeTest extends TestCase {
	const CODE = '8f3c2a1b-4d5e-4f60-9a7b-1c2d3e4f5a6b';

	public function test_a_purchase_code_is_its_own_canonical_form(): void {
		$this->assertSame( self::CODE, Lcwp_Key::parse( '  8F3C2A1B-4D5E-4F60-9A7B-1C2D3E4F5A6B ' ) );
		$this->assertSame( 'f_4_W3RsanL50bIij8Odgg', Lcwp_Key::hash( self::CODE ) );
		$this->assertSame( '********-****-****-****-1c2d3e4f5a6b', Lcwp_Key::mask( self::CODE ) );
	}

	public function test_other_uuid_like_text_is_still_refused(): void {
		$this->expectException( Lcwp_Key_Error::class );
		Lcwp_Key::parse( '8f3c2a1b4d5e-4f60-9a7b-1c2d3e4f5a6b' );
	}
}
