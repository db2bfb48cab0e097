<?php
/**
 * Where the client keeps its state: one non-autoloaded option with explicit times.
 *
 * The state is the license key, the last trusted token (positive or negative), the
 * highest server time seen (for clock-rollback checks), the local time of the last
 * online attempt, the failure count and when failures began. Nothing here expires by
 * itself (no transient lifetimes): every decision is taken from these timestamps.
 * A missing or corrupt option reads as "no state" and shows the notice.
 *
 * @package Lcwp
 */

if ( ! defined( 'ABSPATH' ) && ! defined( 'LCWP_TESTING' ) ) {
	exit;
}

/** The shape of the state, shared by the stores. */
abstract class Lcwp_Store {
	/** @var array<string,array<int,string>> Field => allowed gettype() results. */
	const FIELDS = array(
		'license_key'   => array( 'string', 'NULL' ),
		'token'         => array( 'string', 'NULL' ),
		'verified'      => array( 'string', 'NULL' ),
		'domain'        => array( 'string', 'NULL' ),
		'server_time'   => array( 'integer' ),
		'checked_at'    => array( 'integer', 'NULL' ),
		'failures'      => array( 'integer' ),
		'failing_since' => array( 'integer', 'NULL' ),
		'last_error'    => array( 'string', 'NULL' ),
	);

	/**
	 * Return an empty state.
	 *
	 * @return array
	 */
	public static function blank() {
		return array(
			'version'       => 1,
			'license_key'   => null,
			'token'         => null,
			'verified'      => null,
			'domain'        => null,
			'server_time'   => 0,
			'checked_at'    => null,
			'failures'      => 0,
			'failing_since' => null,
			'last_error'    => null,
		);
	}

	/**
	 * Return a well-formed state from stored data, or null.
	 *
	 * @param mixed $data What was stored.
	 * @return array|null
	 */
	public static function sanitize( $data ) {
		if ( ! is_array( $data ) || ! isset( $data['version'] ) || 1 !== $data['version'] ) {
			return null;
		}
		$state = self::blank();
		foreach ( self::FIELDS as $name => $types ) {
			$value = array_key_exists( $name, $data ) ? $data[ $name ] : $state[ $name ];
			if ( ! in_array( gettype( $value ), $types, true ) ) {
				return null;
			}
			$state[ $name ] = $value;
		}
		return $state;
	}

	/**
	 * Return the stored state, or null when none or unreadable.
	 *
	 * @return array|null
	 */
	abstract public function load();

	/**
	 * Replace the stored state.
	 *
	 * @param array $state A state as blank() shapes it.
	 * @return bool Whether it was written.
	 */
	abstract public function save( array $state );
}

/** The state in a WordPress option that is never autoloaded. */
class Lcwp_Option_Store extends Lcwp_Store {
	/** @var string */
	private $name;

	/**
	 * @param string $name Option name (prefixed per vendor and product).
	 */
	public function __construct( $name ) {
		$this->name = $name;
	}

	/** @inheritDoc */
	public function load() {
		return self::sanitize( get_option( $this->name, null ) );
	}

	/** @inheritDoc */
	public function save( array $state ) {
		$state = self::sanitize( $state );
		if ( null === $state ) {
			return false;
		}
		if ( false === get_option( $this->name, false ) ) {
			// add_option is the only way to set autoload "no" on WordPress < 6.6 for a new option.
			return add_option( $this->name, $state, '', 'no' ) || $this->same( $state );
		}
		return update_option( $this->name, $state, false ) || $this->same( $state );
	}

	/**
	 * update_option answers false when nothing changed; that is a success here.
	 *
	 * @param array $state The state just saved.
	 * @return bool
	 */
	private function same( array $state ) {
		return self::sanitize( get_option( $this->name, null ) ) === $state;
	}

	/** Remove the option (uninstall). */
	public function delete() {
		delete_option( $this->name );
	}
}

/** The state in memory only: tests, or hosts that persist it themselves. */
class Lcwp_Memory_Store extends Lcwp_Store {
	/** @var mixed */
	public $data;
	/** @var int */
	public $writes = 0;

	/**
	 * @param mixed $data Initial stored value.
	 */
	public function __construct( $data = null ) {
		$this->data = $data;
	}

	/** @inheritDoc */
	public function load() {
		return self::sanitize( $this->data );
	}

	/** @inheritDoc */
	public function save( array $state ) {
		$this->data = self::sanitize( $state );
		++$this->writes;
		return null !== $this->data;
	}
}
