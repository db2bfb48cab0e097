<?php
/**
 * The one template of Acme Example.
 *
 * @package Acme_Example
 */

?><!doctype html>
<html <?php language_attributes(); ?>>
<head>
<meta charset="<?php bloginfo( 'charset' ); ?>">
<meta name="viewport" content="width=device-width, initial-scale=1">
<?php wp_head(); ?>
</head>
<body <?php body_class(); ?>>
<?php wp_body_open(); ?>
<header><h1><a href="<?php echo esc_url( home_url( '/' ) ); ?>"><?php bloginfo( 'name' ); ?></a></h1></header>
<main>
<?php
while ( have_posts() ) :
	the_post();
	the_title( '<h2>', '</h2>' );
	the_excerpt();
endwhile;
?>
</main>
<footer>
<?php if ( acme_example_is_licensed() ) : ?>
	<p class="acme-licensed"><?php esc_html_e( 'Premium features enabled.', 'acme-example' ); ?></p>
<?php endif; ?>
</footer>
<?php wp_footer(); ?>
</body>
</html>
