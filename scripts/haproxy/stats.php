<?php
/*
 * stats.php: a library, not a script. HAProxy's `show stat` CSV read into rows, once, for both
 * scripts that ask HAProxy how its servers are: pfsense/haproxy-reconcile.php (waiting for the
 * pool's servers to be UP) and cluster/lb-pool-check.php (the phase 6 gate). The program ships
 * it on stdin in front of each (components/shipping/phpBundle.ts); run by hand, a script
 * requires it from here. Plain PHP with no pfSense library: it runs on pfSense and on a plain
 * HAProxy host with php-cli.
 */

/**
 * The server rows of `show stat`, by server name, for the proxies whose name $proxyMatches
 * accepts; the FRONTEND and BACKEND summary rows are left out. Each row is keyed by the CSV's own
 * header line ("# pxname,svname,status,..."), so a column is found by its name whatever the
 * HAProxy version puts around it.
 */
function hacp_stat_servers(string $csv, callable $proxyMatches): array {
	$header = null;
	$rows = [];
	foreach (explode("\n", $csv) as $line) {
		$line = trim($line);
		if ($line === '') {
			continue;
		}
		if (strpos($line, '# ') === 0) {
			$header = explode(',', substr($line, 2));
			continue;
		}
		if ($header === null) {
			continue;
		}
		$row = array_combine($header, array_pad(explode(',', $line), count($header), ''));
		if ($row === false) {
			continue;
		}
		$server = (string)($row['svname'] ?? '');
		if ($proxyMatches((string)($row['pxname'] ?? '')) && $server !== 'FRONTEND' && $server !== 'BACKEND') {
			$rows[$server] = $row;
		}
	}
	return $rows;
}
