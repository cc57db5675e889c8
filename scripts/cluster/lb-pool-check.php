<?php
/*
 * lb-pool-check.php: verification gate (phase 6). Every master must be in the apiserver pool
 * and UP (its HTTPS /readyz check passing), as HAProxy itself reports it on its stats socket.
 * Read-only. Plain PHP with no pfSense library, so it runs on pfSense (PHP is always there) and
 * on a plain HAProxy host with php-cli.
 *
 * Usage:
 *   php lb-pool-check.php --socket PATH --backend NAME --servers NAME[,NAME...] [--timeout S]
 *   (shipped on stdin with ../haproxy/stats.php in front: php -- --socket ... < bundle; run by
 *   hand, it needs ../haproxy/stats.php next to it)
 *
 * --socket: HAProxy's stats socket (pfSense: /tmp/haproxy.socket; Debian: /run/haproxy/admin.sock).
 * --backend: the pool's name; pfSense's HAProxy package suffixes it (apiserver_nodes_ipvANY), so
 *   NAME and NAME_<suffix> both match.
 * --timeout: seconds to keep asking while a server is not UP yet (default 60; a server that just
 *   came back needs `rise` checks).
 * Exit 0 = every server UP, 1 = one is missing or not UP (each named), 2 = usage or no socket.
 */

// The stats CSV reader: shipped in front of this script; next to it when run by hand.
if (!function_exists('hacp_stat_servers')) {
	require_once(__DIR__ . '/../haproxy/stats.php');
}

/** stderr by name: PHP defines no STDERR constant when it reads the script from stdin. */
function say_error(string $line): void {
	file_put_contents('php://stderr', $line . "\n");
}

function check_usage(string $message): void {
	say_error("lb-pool-check: {$message} (see the usage at the top of the script)");
	exit(2);
}

$options = ['socket' => '', 'backend' => '', 'servers' => '', 'timeout' => '60'];
$args = array_slice($argv, 1);
for ($i = 0; $i < count($args); $i += 2) {
	$key = ltrim($args[$i], '-');
	if (!array_key_exists($key, $options) || !isset($args[$i + 1])) {
		check_usage("unknown or incomplete argument '{$args[$i]}'");
	}
	$options[$key] = $args[$i + 1];
}
$servers = array_values(array_filter(explode(',', $options['servers']), 'strlen'));
if ($options['socket'] === '' || $options['backend'] === '' || count($servers) === 0) {
	check_usage('--socket, --backend and --servers are required');
}
if (!ctype_digit($options['timeout'])) {
	check_usage('--timeout must be whole seconds');
}

/** `show stat` as rows keyed by the CSV header, for the servers of the backend. */
function backend_rows(string $socket, string $backend): array {
	$conn = @stream_socket_client("unix://{$socket}", $errno, $error, 5);
	if ($conn === false) {
		say_error("lb-pool-check: cannot open HAProxy's stats socket {$socket}: {$error}");
		exit(2);
	}
	stream_set_timeout($conn, 5);
	fwrite($conn, "show stat\n");
	$csv = stream_get_contents($conn);
	fclose($conn);
	return hacp_stat_servers((string)$csv, fn(string $proxy): bool => $proxy === $backend || strpos($proxy, $backend . '_') === 0);
}

$deadline = microtime(true) + (int)$options['timeout'];
do {
	$rows = backend_rows($options['socket'], $options['backend']);
	$problems = [];
	foreach ($servers as $name) {
		if (!isset($rows[$name])) {
			$problems[] = "{$name} is not in the pool";
			continue;
		}
		// Exactly UP with a passing last check: HAProxy starts a server as UP before its first
		// check (check_status INI), and "UP 1/3" is a server already failing its way down.
		$status = (string)$rows[$name]['status'];
		$check = (string)($rows[$name]['check_status'] ?? '');
		if ($status !== 'UP' || !in_array($check, ['L4OK', 'L6OK', 'L7OK'], true)) {
			$problems[] = "{$name} is {$status} (check " . trim(($rows[$name]['check_status'] ?? '') . ' ' . ($rows[$name]['check_code'] ?? '')) . ')';
		}
	}
	if (count($problems) === 0) {
		foreach ($servers as $name) {
			echo "lb-pool-check: {$name} UP in {$rows[$name]['pxname']}\n";
		}
		exit(0);
	}
	usleep(500000);
} while (microtime(true) < $deadline);
foreach ($problems as $problem) {
	echo "lb-pool-check: {$problem}\n";
}
say_error('lb-pool-check: FAILED: ' . count($problems) . " server(s) not UP in {$options['backend']}");
exit(1);
