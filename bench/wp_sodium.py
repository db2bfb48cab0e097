"""Ed25519 verification in PHP: the sodium extension vs WordPress's sodium_compat.

Why the WordPress client verifies a token once per request and, on hosts without
ext-sodium, remembers (keyed with the site's AUTH_KEY) that a stored token verified:
the pure-PHP fallback is hundreds of times slower. Prints both figures and the ratio,
measured in the same run. Needs php and Debian's wordpress (for sodium_compat).

    python bench/wp_sodium.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

WORDPRESS = Path("/usr/share/wordpress")
SCRIPT = r"""<?php
require %(autoload)s;
$pair = sodium_crypto_sign_keypair();
$sk = sodium_crypto_sign_secretkey( $pair );
$pk = sodium_crypto_sign_publickey( $pair );
$m = str_repeat( 'x', 600 ); // about a domain token's header.payload
$sig = sodium_crypto_sign_detached( $m, $sk );
$t = microtime( true );
for ( $i = 0; $i < 500; $i++ ) { sodium_crypto_sign_verify_detached( $sig, $m, $pk ); }
$native = ( microtime( true ) - $t ) / 500 * 1000;
ParagonIE_Sodium_Compat::$disableFallbackForUnitTests = true; // pure PHP only
$t = microtime( true );
for ( $i = 0; $i < 5; $i++ ) {
    ParagonIE_Sodium_Compat::crypto_sign_verify_detached( $sig, $m, $pk );
}
$compat = ( microtime( true ) - $t ) / 5 * 1000;
printf( "ext-sodium     %%8.3f ms per verification (baseline)\n", $native );
printf( "sodium_compat  %%8.1f ms per verification (%%.0fx the baseline)\n",
    $compat, $compat / $native );
"""


def main() -> int:
    """Run the measurement with PHP and print it."""
    autoload = WORDPRESS / "wp-includes" / "sodium_compat" / "autoload.php"
    if not autoload.is_file():
        print("needs Debian's wordpress package (sodium_compat)", file=sys.stderr)
        return 1
    code = SCRIPT % {"autoload": repr(str(autoload))}
    result = subprocess.run(
        ["php", "-r", code.removeprefix("<?php\n")], capture_output=True, text=True
    )
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
