<?php
/*
 * haproxy-reconcile.php: brings pfSense's HAProxy package configuration (and the VIP's IP
 * alias) to the desired state in a JSON document, changing only what differs and only what
 * this stack owns. Unlike a reset-to-declared-state bootstrap, other pools and frontends are
 * never rewritten, and HAProxy is reloaded only when something changed, with the package's
 * own seamless reload (-x socket transfer, -sf), so the other frontends do not bounce.
 *
 * Run on pfSense (2.7 or later, HAProxy package installed) as admin/root:
 *   php haproxy-reconcile.php apply         < state.json    VIP, host alias, pool settings + base servers, frontend
 *   php haproxy-reconcile.php delete        < state.json    remove the frontend, the pool, the host alias and the VIP (ours only)
 *   php haproxy-reconcile.php add-server    < member.json   one server into the pool
 *   php haproxy-reconcile.php remove-server < member.json   that server out of the pool
 *   php haproxy-reconcile.php status        < state.json    show the servers' state (read-only)
 * The documents are rendered by topology/loadBalancer.ts. The Pulumi program ships this script
 * on stdin with the document in front of it, as the constant HA_CONTROL_PLANE_STATE_JSON.
 *
 * Ownership: an item is ours when it carries the document's marker ("[managed by
 * ha-control-plane/<stack>]"): the VIP's, the host alias's and the frontend's description, the
 * first line of the pool's backend pass-through. An item with our name but without the marker is refused, never
 * adopted silently; add the marker to its description to hand it over.
 *
 * Exit codes: 0 done (changed or not), 1 pfSense refused (haproxy -c, reload), 2 bad input,
 * 3 an item is in the way (not ours), 4 servers not UP within waitUpSeconds.
 *
 * HA_PFSENSE_API=<file> includes that file instead of pfSense's libraries (the tests' stand-in).
 * Run by hand, it needs ../haproxy/stats.php next to it (the program ships both on stdin).
 */

// The stats CSV reader: shipped in front of this script; next to it when run by hand.
if (!function_exists('hacp_stat_servers')) {
	require_once(__DIR__ . '/../haproxy/stats.php');
}

$ha_api = getenv('HA_PFSENSE_API');
if ($ha_api !== false && $ha_api !== '') {
	require_once($ha_api);
} else {
	// Included at file scope: haproxy.inc declares its globals (e.g. the dirty-flag path) there.
	require_once("config.inc");
	require_once("functions.inc");
	require_once("util.inc");
	require_once("interfaces.inc");
	require_once("filter.inc");
	require_once("haproxy/haproxy.inc");
	require_once("haproxy/haproxy_socketinfo.inc");
}

const HA_SCHEMA = 'ha-control-plane/pfsense-haproxy/v1';
const HA_POOLS = 'installedpackages/haproxy/ha_pools/item';
const HA_FRONTENDS = 'installedpackages/haproxy/ha_backends/item';
const HA_VIPS = 'virtualip/vip';
const HA_ALIASES = 'aliases/alias';
// Package fields stored base64-encoded; the documents carry them in clear.
const HA_POOL_BASE64 = ['advanced', 'advanced_backend'];
const HA_FRONTEND_BASE64 = ['advanced'];
// Fields pfSense assigns itself: kept as they are.
const HA_POOL_KEEP = ['id', 'ha_servers'];
const HA_SERVER_KEEP = ['id'];
const HA_VIP_KEEP = ['uniqid'];

function ha_fail(int $code, string $message): void {
	// By name: PHP defines no STDERR constant when it reads the script from stdin (php --).
	file_put_contents('php://stderr', "haproxy-reconcile: {$message}\n");
	exit($code);
}

function ha_say(string $line): void {
	echo $line, "\n";
}

/** The document: the shipped constant, or stdin when run by hand. */
function ha_read_document(): array {
	$text = defined('HA_CONTROL_PLANE_STATE_JSON') ? constant('HA_CONTROL_PLANE_STATE_JSON') : stream_get_contents(fopen('php://stdin', 'r'));
	$doc = json_decode((string)$text, true);
	if (!is_array($doc)) {
		ha_fail(2, 'the desired state is not a JSON object (' . json_last_error_msg() . ')');
	}
	if (($doc['schema'] ?? '') !== HA_SCHEMA) {
		ha_fail(2, 'unknown document schema ' . json_encode($doc['schema'] ?? null, JSON_UNESCAPED_SLASHES) . ', expected ' . HA_SCHEMA);
	}
	foreach (['owner', 'marker', 'runtimeBackend'] as $field) {
		if (!is_string($doc[$field] ?? null) || $doc[$field] === '') {
			ha_fail(2, "the document has no {$field}");
		}
	}
	return $doc;
}

function ha_require(array $doc, array $fields): void {
	foreach ($fields as $field) {
		if (!isset($doc[$field])) {
			ha_fail(2, "this action needs '{$field}' in the document");
		}
	}
}

/** Config values are strings; compare documents the way pfSense stores them. */
function ha_normalize($value) {
	if (is_array($value)) {
		return array_map('ha_normalize', $value);
	}
	if (is_bool($value)) {
		return $value ? 'yes' : '';
	}
	return $value === null ? '' : (string)$value;
}

/** For comparing: strings everywhere, and empty fields (as the GUI saves them) dropped at every depth. */
function ha_canonical($value) {
	$value = ha_normalize($value);
	if (!is_array($value)) {
		return $value;
	}
	$out = [];
	foreach ($value as $key => $item) {
		if (!ha_is_empty($item)) {
			$out[$key] = ha_canonical($item);
		}
	}
	return $out;
}

/** A list field the GUI saved empty ({item: []} or '') counts as absent. */
function ha_is_empty($value): bool {
	if ($value === null || $value === '' || $value === []) {
		return true;
	}
	return is_array($value) && array_keys($value) === ['item'] && ha_is_empty($value['item']);
}

/** The item as the document wants it, keeping the fields pfSense owns. */
function ha_desired_item(array $current, array $desired, array $keep, array $base64): array {
	$item = [];
	foreach ($keep as $field) {
		if (array_key_exists($field, $current)) {
			$item[$field] = $current[$field];
		}
	}
	foreach ($desired as $field => $value) {
		$item[$field] = in_array($field, $base64, true) ? base64_encode((string)$value) : ha_normalize($value);
	}
	return $item;
}

/** Fields whose value differs between two items (base64 fields compared decoded). */
function ha_changed_fields(array $current, array $wanted, array $base64): array {
	$changed = [];
	foreach (array_unique(array_merge(array_keys($current), array_keys($wanted))) as $field) {
		$a = $current[$field] ?? null;
		$b = $wanted[$field] ?? null;
		if (ha_is_empty($a) && ha_is_empty($b)) {
			continue;
		}
		if (in_array($field, $base64, true)) {
			$a = base64_decode((string)$a);
			$b = base64_decode((string)$b);
		}
		if (ha_canonical($a) !== ha_canonical($b)) {
			$changed[] = $field;
		}
	}
	sort($changed);
	return $changed;
}

function ha_find(array $items, string $field, string $value): ?int {
	foreach ($items as $i => $item) {
		if (is_array($item) && (string)($item[$field] ?? '') === $value) {
			return $i;
		}
	}
	return null;
}

function ha_pool_is_ours(array $pool, string $marker): bool {
	return strpos(base64_decode((string)($pool['advanced_backend'] ?? '')), $marker) !== false;
}

function ha_text_is_ours(array $item, string $field, string $marker): bool {
	return strpos((string)($item[$field] ?? ''), $marker) !== false;
}

function ha_not_ours(string $what, string $where, string $marker): void {
	ha_fail(3, "{$what} exists but is not managed by this stack (no '{$marker}'). "
		. "Delete or rename it in {$where}, or put '{$marker}' in its description to hand it over, then run again.");
}

function ha_ipv4_in_subnet(string $ip, string $network, int $bits): bool {
	$mask = $bits === 0 ? 0 : (~0 << (32 - $bits)) & 0xFFFFFFFF;
	return (ip2long($ip) & $mask) === (ip2long($network) & $mask);
}

/** "auto": the enabled interface with a static IPv4 subnet that holds the address. */
function ha_resolve_interface(string $wanted, string $address): string {
	$interfaces = config_get_path('interfaces', []);
	if ($wanted !== 'auto') {
		if (!isset($interfaces[$wanted])) {
			ha_fail(2, "interface '{$wanted}' does not exist on this pfSense (Interfaces > Assignments lists: " . implode(', ', array_keys($interfaces)) . ')');
		}
		return $wanted;
	}
	$matches = [];
	foreach ($interfaces as $id => $iface) {
		$ip = (string)($iface['ipaddr'] ?? '');
		$bits = (int)($iface['subnet'] ?? 0);
		if (isset($iface['enable']) && filter_var($ip, FILTER_VALIDATE_IP, FILTER_FLAG_IPV4) && $bits > 0 && ha_ipv4_in_subnet($address, $ip, $bits)) {
			$matches[] = $id;
		}
	}
	if (count($matches) !== 1) {
		ha_fail(2, "cannot choose the interface for {$address}: " . (count($matches) === 0 ? 'no enabled interface has a static subnet holding it' : 'several do (' . implode(', ', $matches) . ')')
			. '; set loadBalancer.interface to its id');
	}
	return $matches[0];
}

/** Servers of our pool: the base servers as declared, members kept as they are, the rest removed. */
function ha_merge_servers(array $current, array $base, array $members, string $pool, array &$changes): array {
	$result = [];
	foreach ($base as $server) {
		$i = ha_find($current, 'name', (string)$server['name']);
		$existing = $i === null ? [] : $current[$i];
		$wanted = ha_desired_item($existing, $server, HA_SERVER_KEEP, []);
		if ($i === null) {
			$changes[] = "+ server {$pool}/{$server['name']} {$server['address']}:{$server['port']}";
		} elseif ($fields = ha_changed_fields($existing, $wanted, [])) {
			$changes[] = "~ server {$pool}/{$server['name']}: " . implode(', ', $fields);
		}
		$result[] = $wanted;
	}
	$baseNames = array_map(function ($s) { return (string)$s['name']; }, $base);
	foreach ($current as $server) {
		$name = (string)($server['name'] ?? '');
		if (in_array($name, $baseNames, true)) {
			continue;
		}
		if (in_array($name, $members, true)) {
			$result[] = $server;
		} else {
			$changes[] = "- server {$pool}/{$name} " . ($server['address'] ?? '') . ':' . ($server['port'] ?? '');
		}
	}
	return $result;
}

function ha_frontend_binds(array $frontend): array {
	$binds = [];
	foreach (($frontend['a_extaddr']['item'] ?? []) as $addr) {
		if (is_array($addr)) {
			$binds[] = ($addr['extaddr'] === 'custom' ? ($addr['extaddr_custom'] ?? '') : ($addr['extaddr'] ?? '')) . ':' . ($addr['extaddr_port'] ?? '');
		}
	}
	return $binds;
}

function ha_frontend_uses_pool(array $frontend, string $pool): bool {
	if (($frontend['backend_serverpool'] ?? '') === $pool) {
		return true;
	}
	foreach (($frontend['a_actionitems']['item'] ?? []) as $action) {
		if (is_array($action) && ($action['action'] ?? '') === 'use_backend' && ($action['use_backendbackend'] ?? '') === $pool) {
			return true;
		}
	}
	return false;
}

/** Runs haproxy -c on the in-memory config (before anything is written), then reloads after the write. */
function ha_check_haproxy(): void {
	$messages = '';
	if (!haproxy_check_and_run($messages, false)) {
		ha_fail(1, 'HAProxy refused the new configuration; nothing was written: ' . trim(strip_tags(str_replace('<br/>', "\n", (string)$messages))));
	}
}

function ha_reload_haproxy(): void {
	global $d_haproxyconfdirty_path;
	$messages = '';
	if (!haproxy_check_and_run($messages, true)) {
		ha_fail(1, 'HAProxy did not reload: ' . trim(strip_tags(str_replace('<br/>', "\n", (string)$messages))));
	}
	// The GUI's "apply changes" banner: the running config now matches the saved one.
	if (!empty($d_haproxyconfdirty_path) && file_exists($d_haproxyconfdirty_path)) {
		unlink($d_haproxyconfdirty_path);
	}
	ha_say('haproxy reloaded (configuration checked with haproxy -c first)');
}

/** show stat rows of one backend (its runtime name exactly), by server name. */
function ha_server_states(string $backend): array {
	$lines = array_map('strval', haproxy_socket_command('show stat'));
	return hacp_stat_servers(implode("\n", $lines), fn(string $proxy): bool => $proxy === $backend);
}

/** Bounded wait until every named server reports UP (checks pass); the failure names the check result. */
function ha_wait_up(string $backend, array $names, int $seconds): void {
	if ($seconds <= 0 || count($names) === 0) {
		return;
	}
	$deadline = microtime(true) + $seconds;
	do {
		$states = ha_server_states($backend);
		$down = [];
		foreach ($names as $name) {
			$status = (string)($states[$name]['status'] ?? 'absent');
			if (strpos($status, 'UP') !== 0) {
				$down[$name] = $status . (isset($states[$name]) ? ' (check ' . trim(($states[$name]['check_status'] ?? '') . ' ' . ($states[$name]['check_code'] ?? '')) . ')' : '');
			}
		}
		if (count($down) === 0) {
			ha_say('UP in ' . $backend . ': ' . implode(', ', $names));
			return;
		}
		usleep(500000);
	} while (microtime(true) < $deadline);
	$detail = [];
	foreach ($down as $name => $status) {
		$detail[] = "{$name} {$status}";
	}
	ha_fail(4, "not UP after {$seconds}s in {$backend}: " . implode('; ', $detail)
		. '. The pool change is saved and live; check the apiserver (curl -k https://<ip>:6443/readyz) and run again.');
}

/** What in the config names the alias (firewall and NAT rules, other aliases), in words; null when nothing. */
function ha_alias_user(string $name): ?string {
	foreach (['filter/rule' => 'firewall rule', 'nat/rule' => 'NAT rule'] as $path => $what) {
		foreach (config_get_path($path, []) as $rule) {
			foreach (['source', 'destination'] as $side) {
				if (is_array($rule) && (string)($rule[$side]['address'] ?? '') === $name) {
					return "{$what} '" . ($rule['descr'] ?? '?') . "'";
				}
			}
		}
	}
	foreach (config_get_path(HA_ALIASES, []) as $alias) {
		if (is_array($alias) && in_array($name, explode(' ', (string)($alias['address'] ?? '')), true)) {
			return "alias '" . ($alias['name'] ?? '?') . "'";
		}
	}
	return null;
}

/** Removing an alias that a rule names would leave that rule invalid (pfSense skips it): refuse. */
function ha_alias_removable(string $name): void {
	$user = ha_alias_user($name);
	if ($user !== null) {
		ha_fail(3, "the alias '{$name}' is used by the {$user}; remove it there (Firewall > Rules / NAT) first, then run again");
	}
}

/** The aliases with our host alias as the document wants it; another alias of ours (a renamed one) goes. */
function ha_aliases_wanted(array $aliases, array $wanted, string $marker, array &$changes): array {
	$name = (string)$wanted['name'];
	$ai = ha_find($aliases, 'name', $name);
	if ($ai !== null && !ha_text_is_ours($aliases[$ai], 'descr', $marker)) {
		ha_not_ours("the alias '{$name}'", 'Firewall > Aliases', $marker);
	}
	$item = ha_desired_item($ai === null ? [] : $aliases[$ai], $wanted, [], []);
	if ($ai === null) {
		$aliases[] = $item;
		$changes[] = "+ alias {$name} -> {$wanted['address']}";
	} elseif ($fields = ha_changed_fields($aliases[$ai], $item, [])) {
		$aliases[$ai] = $item;
		$changes[] = "~ alias {$name}: " . implode(', ', $fields);
	}
	foreach ($aliases as $i => $other) {
		$otherName = (string)($other['name'] ?? '');
		if ($otherName !== $name && ha_text_is_ours($other, 'descr', $marker)) {
			ha_alias_removable($otherName);
			unset($aliases[$i]);
			$changes[] = "- alias {$otherName}";
		}
	}
	return array_values($aliases);
}

/** pf loads aliases as tables when the filter is reloaded (the GUI's Apply on Firewall > Aliases). */
function ha_reload_filter(): void {
	filter_configure();
	ha_say('firewall filter reload requested (aliases)');
}

/**
 * Says and writes what changed, in one config write: the HAProxy items (checked with haproxy -c
 * first) and the aliases, then the filter reload an alias change needs. Returns whether HAProxy
 * items changed; reloading HAProxy for them is the caller's (the VIP's order around it differs).
 */
function ha_write_changes(array $doc, string $what, array $changes, array $items, array $aliasChanges, ?array $aliases): bool {
	foreach (array_merge($changes, $aliasChanges) as $line) {
		ha_say($line);
	}
	if (count($aliasChanges) > 0) {
		config_set_path(HA_ALIASES, $aliases);
	}
	if (count($changes) > 0) {
		foreach ($items as $path => $value) {
			config_set_path($path, $value);
		}
		ha_check_haproxy();
	}
	ha_commit($doc['owner'], $what, array_merge($changes, $aliasChanges));
	if (count($aliasChanges) > 0) {
		ha_reload_filter();
	}
	return count($changes) > 0;
}

/** A reload with the package disabled stops HAProxy (haproxy_check_run): refuse instead. */
function ha_require_enabled(): void {
	if (config_get_path('installedpackages/haproxy/enable') === null) {
		ha_fail(2, 'HAProxy is not enabled on this pfSense: tick Services > HAProxy > Settings > Enable HAProxy, save, and run again');
	}
}

function ha_commit(string $owner, string $what, array $changes): void {
	config_id(); // the package's numeric ids for new pools and servers
	write_config("{$owner}: {$what} (" . count($changes) . ' change' . (count($changes) === 1 ? '' : 's') . ')');
	ha_say("config written: {$what}");
}

function ha_apply(array $doc): void {
	ha_require($doc, ['vip', 'pool', 'servers', 'memberServers', 'frontend']);
	ha_require_enabled();
	$marker = $doc['marker'];
	$changes = [];

	// The VIP's IP alias on the cluster VLAN's interface.
	$vipWanted = $doc['vip'];
	$vipWanted['interface'] = ha_resolve_interface((string)$vipWanted['interface'], (string)$vipWanted['subnet']);
	$vips = config_get_path(HA_VIPS, []);
	$vi = ha_find($vips, 'subnet', (string)$vipWanted['subnet']);
	$vipOld = null;
	$vipItem = null;
	if ($vi !== null && !ha_text_is_ours($vips[$vi], 'descr', $marker)) {
		ha_not_ours("the virtual IP {$vipWanted['subnet']}", 'Firewall > Virtual IPs', $marker);
	}
	if ($vi === null) {
		$vipItem = ha_desired_item(['uniqid' => uniqid()], $vipWanted, HA_VIP_KEEP, []);
		$vips[] = $vipItem;
		$changes[] = "+ vip {$vipWanted['subnet']}/{$vipWanted['subnet_bits']} on {$vipWanted['interface']}";
	} else {
		$wanted = ha_desired_item($vips[$vi], $vipWanted, HA_VIP_KEEP, []);
		if ($fields = ha_changed_fields($vips[$vi], $wanted, [])) {
			$vipOld = $vips[$vi];
			$vipItem = $wanted;
			$vips[$vi] = $wanted;
			$changes[] = "~ vip {$vipWanted['subnet']}: " . implode(', ', $fields);
		}
	}

	// The VIP's host alias, for firewall rules that name the VIP (seed 1.1).
	$aliasChanges = [];
	$aliases = isset($doc['alias']) ? ha_aliases_wanted(config_get_path(HA_ALIASES, []), $doc['alias'], $marker, $aliasChanges) : null;

	// The pool: its settings, the base servers; members added one by one are left alone.
	$poolWanted = $doc['pool'];
	$poolName = (string)$poolWanted['name'];
	$pools = config_get_path(HA_POOLS, []);
	$pi = ha_find($pools, 'name', $poolName);
	if ($pi !== null && !ha_pool_is_ours($pools[$pi], $marker)) {
		ha_not_ours("the backend pool '{$poolName}'", 'Services > HAProxy > Backend', $marker);
	}
	$current = $pi === null ? [] : $pools[$pi];
	$poolChanges = [];
	$servers = ha_merge_servers($current['ha_servers']['item'] ?? [], $doc['servers'], $doc['memberServers'], $poolName, $poolChanges);
	$pool = ha_desired_item($current, $poolWanted, HA_POOL_KEEP, HA_POOL_BASE64);
	$pool['ha_servers'] = ['item' => $servers];
	if ($pi === null) {
		$pools[] = $pool;
		$changes[] = "+ pool {$poolName} (check {$poolWanted['httpcheck_method']} {$poolWanted['monitor_uri']} over TLS, inter {$poolWanted['checkinter']} ms)";
	} else {
		$fields = array_diff(ha_changed_fields($current, $pool, HA_POOL_BASE64), ['ha_servers']);
		if ($fields) {
			$changes[] = "~ pool {$poolName}: " . implode(', ', $fields);
		}
		$pools[$pi] = $pool;
	}
	$changes = array_merge($changes, $poolChanges);

	// The frontend on VIP:port, default backend our pool. Nobody else may listen there.
	$feWanted = $doc['frontend'];
	$feName = (string)$feWanted['name'];
	$frontends = config_get_path(HA_FRONTENDS, []);
	$fi = ha_find($frontends, 'name', $feName);
	if ($fi !== null && !ha_text_is_ours($frontends[$fi], 'desc', $marker)) {
		ha_not_ours("the frontend '{$feName}'", 'Services > HAProxy > Frontend', $marker);
	}
	$myBinds = ha_frontend_binds($feWanted);
	foreach ($frontends as $i => $other) {
		if ($i !== $fi && ($other['status'] ?? '') === 'active' && array_intersect($myBinds, ha_frontend_binds($other))) {
			ha_fail(3, "the frontend '" . ($other['name'] ?? '?') . "' already listens on " . implode(', ', array_intersect($myBinds, ha_frontend_binds($other))) . '; move or disable it first');
		}
	}
	$fe = ha_desired_item($fi === null ? [] : $frontends[$fi], $feWanted, [], HA_FRONTEND_BASE64);
	if ($fi === null) {
		$frontends[] = $fe;
		$changes[] = "+ frontend {$feName} " . implode(', ', $myBinds) . " -> {$poolName}";
	} elseif ($fields = ha_changed_fields($frontends[$fi], $fe, HA_FRONTEND_BASE64)) {
		$frontends[$fi] = $fe;
		$changes[] = "~ frontend {$feName}: " . implode(', ', $fields);
	}

	if (count($changes) === 0 && count($aliasChanges) === 0) {
		ha_say('no change: pfSense already matches the declared load balancer (haproxy not reloaded)');
	} else {
		$items = [HA_VIPS => $vips, HA_POOLS => $pools, HA_FRONTENDS => $frontends];
		if (ha_write_changes($doc, 'apiserver load balancer', $changes, $items, $aliasChanges, $aliases)) {
			if ($vipItem !== null) {
				if ($vipOld !== null) {
					interface_vip_bring_down($vipOld);
				}
				interface_ipalias_configure($vipItem); // before the reload: HAProxy binds to it
				ha_say("vip {$vipWanted['subnet']} configured on {$vipWanted['interface']}");
			}
			ha_reload_haproxy();
		}
	}
	$names = array_map(function ($s) { return (string)$s['name']; }, $doc['servers']);
	ha_wait_up($doc['runtimeBackend'], $names, (int)($doc['waitUpSeconds'] ?? 0));
}

function ha_delete(array $doc): void {
	ha_require($doc, ['vip', 'pool', 'frontend']);
	$marker = $doc['marker'];
	$changes = [];
	$poolName = (string)$doc['pool']['name'];

	// The host alias first: a rule still naming it refuses the delete before anything changed.
	$aliasChanges = [];
	$aliases = config_get_path(HA_ALIASES, []);
	$ai = isset($doc['alias']) ? ha_find($aliases, 'name', (string)$doc['alias']['name']) : null;
	if ($ai !== null && ha_text_is_ours($aliases[$ai], 'descr', $marker)) {
		ha_alias_removable((string)$doc['alias']['name']);
		unset($aliases[$ai]);
		$aliases = array_values($aliases);
		$aliasChanges[] = "- alias {$doc['alias']['name']}";
	}

	$frontends = config_get_path(HA_FRONTENDS, []);
	$fi = ha_find($frontends, 'name', (string)$doc['frontend']['name']);
	if ($fi !== null && ha_text_is_ours($frontends[$fi], 'desc', $marker)) {
		unset($frontends[$fi]);
		$frontends = array_values($frontends);
		$changes[] = "- frontend {$doc['frontend']['name']}";
	}
	$pools = config_get_path(HA_POOLS, []);
	$pi = ha_find($pools, 'name', $poolName);
	if ($pi !== null && ha_pool_is_ours($pools[$pi], $marker)) {
		foreach ($frontends as $other) {
			if (ha_frontend_uses_pool($other, $poolName)) {
				ha_fail(3, "the frontend '" . ($other['name'] ?? '?') . "' uses the pool {$poolName}; point it elsewhere before removing the pool");
			}
		}
		unset($pools[$pi]);
		$pools = array_values($pools);
		$changes[] = "- pool {$poolName}";
	}
	$vips = config_get_path(HA_VIPS, []);
	$vi = ha_find($vips, 'subnet', (string)$doc['vip']['subnet']);
	$vipOld = null;
	if ($vi !== null && ha_text_is_ours($vips[$vi], 'descr', $marker)) {
		$vipOld = $vips[$vi];
		unset($vips[$vi]);
		$vips = array_values($vips);
		$changes[] = "- vip {$doc['vip']['subnet']}";
	}
	if (count($changes) === 0 && count($aliasChanges) === 0) {
		ha_say('no change: nothing of this stack is configured (haproxy not reloaded)');
		return;
	}
	$items = [HA_FRONTENDS => $frontends, HA_POOLS => $pools, HA_VIPS => $vips];
	if (!ha_write_changes($doc, 'remove apiserver load balancer', $changes, $items, $aliasChanges, $aliases)) {
		return;
	}
	ha_reload_haproxy();
	if ($vipOld !== null) {
		interface_vip_bring_down($vipOld); // after the reload: nothing listens on it any more
		ha_say("vip {$doc['vip']['subnet']} removed");
	}
}

/** Our pool, by name; a missing pool is null, a pool of someone else's a refusal. */
function ha_our_pool(array $pools, string $name, string $marker): ?int {
	$pi = ha_find($pools, 'name', $name);
	if ($pi !== null && !ha_pool_is_ours($pools[$pi], $marker)) {
		ha_not_ours("the backend pool '{$name}'", 'Services > HAProxy > Backend', $marker);
	}
	return $pi;
}

function ha_add_server(array $doc): void {
	ha_require($doc, ['pool', 'server']);
	ha_require_enabled();
	$server = $doc['server'];
	$poolName = (string)$doc['pool']['name'];
	$pools = config_get_path(HA_POOLS, []);
	$pi = ha_our_pool($pools, $poolName, $doc['marker']);
	if ($pi === null) {
		ha_fail(2, "the pool {$poolName} does not exist yet: apply the load balancer (phase 1) first");
	}
	$servers = $pools[$pi]['ha_servers']['item'] ?? [];
	$si = ha_find($servers, 'name', (string)$server['name']);
	$wanted = ha_desired_item($si === null ? [] : $servers[$si], $server, HA_SERVER_KEEP, []);
	$changes = [];
	if ($si === null) {
		$servers[] = $wanted;
		$changes[] = "+ server {$poolName}/{$server['name']} {$server['address']}:{$server['port']}";
	} elseif ($fields = ha_changed_fields($servers[$si], $wanted, [])) {
		$servers[$si] = $wanted;
		$changes[] = "~ server {$poolName}/{$server['name']}: " . implode(', ', $fields);
	}
	if (count($changes) === 0) {
		ha_say("no change: {$server['name']} is already in {$poolName} (haproxy not reloaded)");
	} else {
		foreach ($changes as $line) {
			ha_say($line);
		}
		$pools[$pi]['ha_servers'] = ['item' => $servers];
		config_set_path(HA_POOLS, $pools);
		ha_check_haproxy();
		ha_commit($doc['owner'], "add {$server['name']} to {$poolName}", $changes);
		ha_reload_haproxy();
	}
	ha_wait_up($doc['runtimeBackend'], [(string)$server['name']], (int)($doc['waitUpSeconds'] ?? 0));
}

function ha_remove_server(array $doc): void {
	ha_require($doc, ['pool', 'server']);
	$name = (string)$doc['server']['name'];
	$poolName = (string)$doc['pool']['name'];
	$pools = config_get_path(HA_POOLS, []);
	$pi = ha_our_pool($pools, $poolName, $doc['marker']);
	$servers = $pi === null ? [] : ($pools[$pi]['ha_servers']['item'] ?? []);
	$si = ha_find($servers, 'name', $name);
	if ($si === null) {
		ha_say("no change: {$name} is not in {$poolName} (haproxy not reloaded)");
		return;
	}
	unset($servers[$si]);
	$pools[$pi]['ha_servers'] = ['item' => array_values($servers)];
	$changes = ["- server {$poolName}/{$name}"];
	ha_say($changes[0]);
	config_set_path(HA_POOLS, $pools);
	ha_check_haproxy();
	ha_commit($doc['owner'], "remove {$name} from {$poolName}", $changes);
	ha_reload_haproxy();
}

function ha_status(array $doc): void {
	foreach (ha_server_states($doc['runtimeBackend']) as $name => $row) {
		ha_say("{$name} {$row['status']} check=" . trim(($row['check_status'] ?? '') . ' ' . ($row['check_code'] ?? '')));
	}
}

$ha_actions = ['apply' => 'ha_apply', 'delete' => 'ha_delete', 'add-server' => 'ha_add_server', 'remove-server' => 'ha_remove_server', 'status' => 'ha_status'];
$ha_action = $argv[1] ?? '';
if (!isset($ha_actions[$ha_action])) {
	ha_fail(2, 'usage: php haproxy-reconcile.php ' . implode('|', array_keys($ha_actions)) . ' < document.json');
}
$ha_doc = ha_read_document();
ha_say("haproxy-reconcile {$ha_action} ({$ha_doc['owner']})");
$ha_actions[$ha_action]($ha_doc);
