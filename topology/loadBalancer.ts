/**
 * The apiserver load balancer as a pure model: one TCP frontend on the VIP, one backend pool of
 * apiservers checked with HTTPS GET /readyz, and the connection handling that hides a dead
 * backend from clients. Rendered two ways from the same model: an haproxy.cfg fragment (plain
 * HAProxy) and the desired-state document the pfSense reconcile script applies through the
 * HAProxy package's config (scripts/pfsense/haproxy-reconcile.php). No Pulumi resources here.
 */
import { DEFAULT_HEALTH_CHECK_TIMINGS } from "./config/loadBalancer";
import type { ClusterConfig, HealthCheckTimings, MasterSpec } from "./types";

/** The names the seed plan uses on pfSense (phase 1.2); operators know them from the runbooks. */
export const APISERVER_POOL_NAME = "apiserver_nodes";
export function apiserverFrontendName(port: number): string {
    return `apiserver_proxy_${port}`;
}

/**
 * kubeadm's docs/ha-considerations.md haproxy.cfg: no timings on the server line, so HAProxy's
 * defaults (inter 2s, fall 3, rise 2; fastinter/downinter default to inter), `timeout check 10s`,
 * `timeout connect 5s`, `retries 1` with `option redispatch`. The benchmark's baseline.
 */
export const KUBEADM_DOCS_HEALTH_CHECK_TIMINGS: HealthCheckTimings = Object.freeze({
    intervalMs: 2000,
    fastIntervalMs: 2000,
    downIntervalMs: 2000,
    fall: 3,
    rise: 2,
    timeoutMs: 10000,
});

/** What the check is; fixed, because it is what makes the pool safe (the policies pin it too). */
export interface ApiserverHealthCheck extends HealthCheckTimings {
    /** HTTP over TLS to the backend's own port. */
    readonly protocol: "https";
    readonly method: "GET";
    /** /readyz is false while etcd is unreachable or the apiserver is shutting down; a TCP or TLS handshake check is not. */
    readonly path: "/readyz";
    readonly expectStatus: 200;
    /** The apiserver's certificate is signed by the cluster CA the LB does not hold: no verification. */
    readonly verifyTls: false;
}

export interface ConnectionHandling {
    readonly balance: "roundrobin";
    /** A connect that fails (refused, timed out) is retried up to this many times... */
    readonly retries: number;
    /** ...each time on another server (`option redispatch 1`), so a dead backend costs a retry, not an error. */
    readonly redispatchEveryRetry: true;
    /** On a LAN a SYN is answered in well under a millisecond; 1 s bounds the wait on a powered-off master. */
    readonly connectTimeoutMs: number;
    /** Idle limits; long because watches, logs -f and exec sessions stay open for a long time. */
    readonly clientTimeoutMs: number;
    readonly serverTimeoutMs: number;
}

export const DEFAULT_CONNECTION_HANDLING: ConnectionHandling = Object.freeze({
    balance: "roundrobin",
    retries: 3,
    redispatchEveryRetry: true,
    connectTimeoutMs: 1000,
    clientTimeoutMs: 3_600_000,
    serverTimeoutMs: 3_600_000,
});

export interface PoolServer {
    readonly name: string;
    readonly address: string;
    readonly port: number;
}

export interface ApiserverPool {
    readonly frontend: {
        readonly name: string;
        readonly address: string;
        readonly port: number;
        /** TLS passes through untouched: the apiserver terminates it (client certificates, SANs). */
        readonly mode: "tcp";
    };
    readonly backend: {
        readonly name: string;
        readonly healthCheck: ApiserverHealthCheck;
        readonly connection: ConnectionHandling;
        readonly servers: readonly PoolServer[];
    };
}

export function apiserverHealthCheck(timings: HealthCheckTimings = DEFAULT_HEALTH_CHECK_TIMINGS): ApiserverHealthCheck {
    return { protocol: "https", method: "GET", path: "/readyz", expectStatus: 200, verifyTls: false, ...timings };
}

/** A master as a pool server: its apiserver on the cluster's apiserver port. */
export function poolServer(master: Pick<MasterSpec, "name" | "ip">, port: number): PoolServer {
    return { name: master.name, address: master.ip, port };
}

export interface PoolOptions {
    readonly healthCheck?: HealthCheckTimings;
    readonly connection?: ConnectionHandling;
}

/** The pool on the VIP with the given servers (phase 1: the existing master alone). */
export function apiserverPool(
    cluster: Pick<ClusterConfig, "vip" | "apiserverPort">,
    servers: readonly PoolServer[],
    options: PoolOptions = {},
): ApiserverPool {
    return {
        frontend: { name: apiserverFrontendName(cluster.apiserverPort), address: cluster.vip, port: cluster.apiserverPort, mode: "tcp" },
        backend: {
            name: APISERVER_POOL_NAME,
            healthCheck: apiserverHealthCheck(options.healthCheck),
            connection: options.connection ?? DEFAULT_CONNECTION_HANDLING,
            servers,
        },
    };
}

/**
 * The longest an answering but unready backend stays in the pool: the check just before it
 * turned passed, the next one comes `intervalMs` later and fails, then `fall - 1` fast re-checks.
 * (A backend that hangs adds up to `timeoutMs` per check.)
 */
export function ejectionBoundMs(t: HealthCheckTimings): number {
    return t.intervalMs + (t.fall - 1) * t.fastIntervalMs;
}

// ---------------------------------------------------------------------------------------------
// Plain HAProxy
// ---------------------------------------------------------------------------------------------

/** Options every server line carries (checks over TLS without verification; timings). */
function serverOptions(check: ApiserverHealthCheck): string {
    return [
        "check",
        // Only the checks speak TLS: without `ssl` the client's TLS stream passes through as is.
        "check-ssl",
        "verify none",
        `inter ${check.intervalMs}`,
        `fastinter ${check.fastIntervalMs}`,
        `downinter ${check.downIntervalMs}`,
        `fall ${check.fall}`,
        `rise ${check.rise}`,
    ].join(" ");
}

/** One `server` line, complete on its own so a member can be added without the rest of the pool. */
export function renderHaproxyServerLine(pool: ApiserverPool, server: PoolServer): string {
    return `    server ${server.name} ${server.address}:${server.port} ${serverOptions(pool.backend.healthCheck)}`;
}

export interface HaproxyFragmentOptions {
    /** Servers to render; defaults to the pool's. Member servers are appended after these. */
    readonly servers?: readonly PoolServer[];
    /** First line of the fragment (the install script wraps it in BEGIN/END markers). */
    readonly comment?: string;
}

/**
 * The frontend and backend sections, without global/defaults so the fragment can sit at the end
 * of any haproxy.cfg. The backend comes last: member `server` lines are appended after it.
 */
export function renderHaproxyFragment(pool: ApiserverPool, options: HaproxyFragmentOptions = {}): string {
    const { frontend, backend } = pool;
    const { healthCheck: check, connection: conn } = backend;
    const servers = options.servers ?? backend.servers;
    const lines = [
        ...(options.comment ? [`# ${options.comment}`] : []),
        `frontend ${frontend.name}`,
        `    bind ${frontend.address}:${frontend.port}`,
        `    mode ${frontend.mode}`,
        `    timeout client ${conn.clientTimeoutMs}`,
        `    default_backend ${backend.name}`,
        "",
        `backend ${backend.name}`,
        `    mode ${frontend.mode}`,
        `    balance ${conn.balance}`,
        `    option httpchk ${check.method} ${check.path}`,
        `    http-check expect status ${check.expectStatus}`,
        `    retries ${conn.retries}`,
        "    option redispatch 1",
        `    timeout connect ${conn.connectTimeoutMs}`,
        `    timeout server ${conn.serverTimeoutMs}`,
        `    timeout check ${check.timeoutMs}`,
        ...servers.map((s) => renderHaproxyServerLine(pool, s)),
    ];
    return `${lines.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------
// pfSense (HAProxy package): the desired-state document for scripts/pfsense/haproxy-reconcile.php
// ---------------------------------------------------------------------------------------------

export const PFSENSE_STATE_SCHEMA = "ha-control-plane/pfsense-haproxy/v1";

/**
 * A server item of a pool (`installedpackages/haproxy/ha_pools/item[]/ha_servers/item[]`), with
 * the package's field names. Deliberately no `ssl`: that field makes HAProxy encrypt the traffic
 * to the backend, which in TCP mode would wrap the client's TLS in a second TLS. `checkssl` runs
 * only the checks over TLS, and `sslserververify` left unset renders `verify none`.
 */
export interface PfsenseServerItem {
    readonly name: string;
    readonly address: string;
    readonly port: string;
    readonly status: "active";
    readonly checkssl: "yes";
    readonly weight: string;
}

/** A pool item (`ha_pools/item[]`); `advanced` and `advanced_backend` in clear (the script base64s them). */
export interface PfsensePoolItem {
    readonly name: string;
    readonly balance: "roundrobin";
    readonly check_type: "HTTP";
    readonly httpcheck_method: "GET";
    readonly monitor_uri: string;
    /** Check interval in ms (`check inter`). */
    readonly checkinter: string;
    /** `timeout connect` and `timeout server`, in ms. */
    readonly connection_timeout: string;
    readonly server_timeout: string;
    readonly retries: string;
    /** Appended to every server line: the timings the package has no fields for. */
    readonly advanced: string;
    /** Lines in the backend section; its first line is the ownership marker. */
    readonly advanced_backend: string;
}

/** A frontend item (`installedpackages/haproxy/ha_backends/item[]`: the package's name for frontends). */
export interface PfsenseFrontendItem {
    readonly name: string;
    readonly desc: string;
    readonly status: "active";
    readonly type: "tcp";
    readonly backend_serverpool: string;
    readonly client_timeout: string;
    readonly a_extaddr: { readonly item: readonly { readonly extaddr: "custom"; readonly extaddr_custom: string; readonly extaddr_port: string }[] };
}

/** An IP alias (`virtualip/vip[]`); `interface` "auto" = the interface whose subnet holds the address. */
export interface PfsenseVipItem {
    readonly mode: "ipalias";
    readonly interface: string;
    readonly type: "single";
    readonly subnet: string;
    /** The interface network's mask, as the GUI asks for an IP alias. */
    readonly subnet_bits: string;
    readonly descr: string;
}

/**
 * A host alias (`aliases/alias[]`, Firewall > Aliases > Hosts): firewall rules can name the VIP
 * by it. pfSense allows only letters, digits and _ in alias names, so the seed's
 * `k8s-apiserver-vip` becomes `k8s_apiserver_vip`.
 */
export interface PfsenseAliasItem {
    readonly name: string;
    readonly type: "host";
    readonly address: string;
    readonly descr: string;
    /** The per-address descriptions, `||`-separated (one address here). */
    readonly detail: string;
}

export interface PfsenseOwner {
    /** e.g. "ha-control-plane/lab": marks what this stack created, so others' items are never touched. */
    readonly owner: string;
}

export function ownershipMarker(owner: string): string {
    return `[managed by ${owner}]`;
}

/** apply/delete: the VIP, the pool (settings + base servers) and the frontend. */
export interface PfsenseLoadBalancerState extends PfsenseOwner {
    readonly schema: typeof PFSENSE_STATE_SCHEMA;
    readonly marker: string;
    readonly vip: PfsenseVipItem;
    /** The VIP's host alias; a document without one leaves aliases alone. */
    readonly alias?: PfsenseAliasItem;
    readonly pool: PfsensePoolItem;
    readonly servers: readonly PfsenseServerItem[];
    /** Servers added one by one (each new master after its gate): apply neither adds nor removes them. */
    readonly memberServers: readonly string[];
    readonly frontend: PfsenseFrontendItem;
    /** The backend's name in the running HAProxy (the package appends the IP version). */
    readonly runtimeBackend: string;
    /** After a reload, wait this long for every listed server to be UP (0: do not wait). */
    readonly waitUpSeconds: number;
}

/** add-server/remove-server: one member of the pool. */
export interface PfsenseMemberState extends PfsenseOwner {
    readonly schema: typeof PFSENSE_STATE_SCHEMA;
    readonly marker: string;
    readonly pool: { readonly name: string };
    readonly server: PfsenseServerItem;
    readonly runtimeBackend: string;
    readonly waitUpSeconds: number;
}

export function pfsenseServerItem(server: PoolServer): PfsenseServerItem {
    return { name: server.name, address: server.address, port: String(server.port), status: "active", checkssl: "yes", weight: "1" };
}

/** The package names a backend `<pool>_<ipversion>`; "ipvANY" unless transparent client IP is on. */
function runtimeBackendName(pool: ApiserverPool): string {
    return `${pool.backend.name}_ipvANY`;
}

export interface PfsenseStateOptions extends PfsenseOwner {
    /** The pfSense interface id of the cluster VLAN (opt1, ...), or "auto". */
    readonly interface: string;
    /** The cluster subnet's prefix length (the IP alias's mask). */
    readonly prefixLength: number;
    /** Names of the servers the member resources add later. */
    readonly memberServers: readonly string[];
    readonly waitUpSeconds: number;
    /** The VIP's host alias name (loadBalancer.hostAlias); none, no alias. */
    readonly hostAlias?: string;
}

export function pfsenseLoadBalancerState(pool: ApiserverPool, options: PfsenseStateOptions): PfsenseLoadBalancerState {
    const { frontend, backend } = pool;
    const { healthCheck: check, connection: conn } = backend;
    const marker = ownershipMarker(options.owner);
    return {
        schema: PFSENSE_STATE_SCHEMA,
        owner: options.owner,
        marker,
        vip: {
            mode: "ipalias",
            interface: options.interface,
            type: "single",
            subnet: frontend.address,
            subnet_bits: String(options.prefixLength),
            descr: `Kubernetes apiserver VIP ${marker}`,
        },
        ...(options.hostAlias
            ? { alias: { name: options.hostAlias, type: "host" as const, address: frontend.address, descr: `Kubernetes apiserver VIP ${marker}`, detail: `apiserver VIP (${frontend.address}:${frontend.port})` } }
            : {}),
        pool: {
            name: backend.name,
            balance: conn.balance,
            check_type: "HTTP",
            httpcheck_method: check.method,
            monitor_uri: check.path,
            checkinter: String(check.intervalMs),
            connection_timeout: String(conn.connectTimeoutMs),
            server_timeout: String(conn.serverTimeoutMs),
            retries: String(conn.retries),
            advanced: `fastinter ${check.fastIntervalMs} downinter ${check.downIntervalMs} fall ${check.fall} rise ${check.rise}`,
            advanced_backend: [
                `# ${marker}: edits to this pool are overwritten by the stack`,
                `http-check expect status ${check.expectStatus}`,
                "option redispatch 1",
                `timeout check ${check.timeoutMs}`,
                // The package dumps server states before a reload; this makes the new process
                // start from them, so a DOWN master does not come back UP for a moment.
                "load-server-state-from-file global",
            ].join("\n"),
        },
        servers: backend.servers.map(pfsenseServerItem),
        memberServers: [...options.memberServers],
        frontend: {
            name: frontend.name,
            desc: `Kubernetes apiserver VIP ${marker}`,
            status: "active",
            type: frontend.mode,
            backend_serverpool: backend.name,
            client_timeout: String(conn.clientTimeoutMs),
            a_extaddr: { item: [{ extaddr: "custom", extaddr_custom: frontend.address, extaddr_port: String(frontend.port) }] },
        },
        runtimeBackend: runtimeBackendName(pool),
        waitUpSeconds: options.waitUpSeconds,
    };
}

export function pfsenseMemberState(pool: ApiserverPool, server: PoolServer, options: PfsenseOwner & { readonly waitUpSeconds: number }): PfsenseMemberState {
    return {
        schema: PFSENSE_STATE_SCHEMA,
        owner: options.owner,
        marker: ownershipMarker(options.owner),
        pool: { name: pool.backend.name },
        server: pfsenseServerItem(server),
        runtimeBackend: runtimeBackendName(pool),
        waitUpSeconds: options.waitUpSeconds,
    };
}

// ---------------------------------------------------------------------------------------------
// The payload a script is shipped with on stdin, read back (components/shipping/payloads.ts
// writes it: phpWithState, bashWithPayload)
// ---------------------------------------------------------------------------------------------

/**
 * The PHP script reads its JSON from stdin when run by hand. Shipped over SSH, stdin carries the
 * script itself, so the JSON goes in front of it as a nowdoc constant (readable in a preview
 * diff). A JSON line never starts with the bare word that closes the nowdoc.
 */
export const PHP_STATE_CONSTANT = "HA_CONTROL_PLANE_STATE_JSON";

/** Reads the state back out of a shipped script (for policies and tests). */
export function readPhpState(stdin: string): unknown {
    const m = new RegExp(`<<<'${PHP_STATE_CONSTANT}'\\n([\\s\\S]*?)\\n${PHP_STATE_CONSTANT};`).exec(stdin);
    return m ? (JSON.parse(m[1]) as unknown) : undefined;
}

/** The bash counterpart: a quoted heredoc assigned to HA_PAYLOAD before the script. */
export const BASH_PAYLOAD_DELIMITER = "HA_CONTROL_PLANE_PAYLOAD";

/** Reads the payload back out of a script shipped with bashWithPayload (for policies and tests). */
export function readBashPayload(stdin: string): string | undefined {
    const m = new RegExp(`^HA_PAYLOAD=\\$\\(cat <<'${BASH_PAYLOAD_DELIMITER}'\\n([\\s\\S]*?)\\n${BASH_PAYLOAD_DELIMITER}\\n\\)\\n`).exec(stdin);
    return m ? m[1] : undefined;
}

// ---------------------------------------------------------------------------------------------
// Reading a pool back from what the program ships to the load balancer, and the rule for it
// ---------------------------------------------------------------------------------------------

/** What a check asks: HTTP (over TLS per server), a bare TCP connect, a TLS hello, or nothing. */
export type ObservedCheckKind = "http" | "tcp" | "tls-hello" | "none" | "other";

export interface ObservedServer {
    readonly name: string;
    readonly address: string;
    readonly port: number;
    readonly checked: boolean;
    /** The check talks TLS to the server (the apiserver port speaks nothing else). */
    readonly tls: boolean;
    /** Timings set on this server (HAProxy server line); the pool's apply where absent. */
    readonly timings: Partial<HealthCheckTimings>;
}

export interface ObservedPool {
    readonly frontend?: { readonly address: string; readonly port: number };
    /** The pool-level check; absent when the payload adds one member server to an existing pool. */
    readonly check?: {
        readonly kind: ObservedCheckKind;
        readonly method?: string;
        readonly path?: string;
        readonly expectStatus?: number;
        readonly timings: Partial<HealthCheckTimings>;
    };
    readonly servers: readonly ObservedServer[];
}

/** HAProxy's own defaults for what a server line leaves out (fastinter and downinter default to inter). */
export const HAPROXY_DEFAULT_TIMINGS: Pick<HealthCheckTimings, "intervalMs" | "fall" | "rise"> = Object.freeze({ intervalMs: 2000, fall: 3, rise: 2 });

const TIMING_KEYWORDS: Readonly<Record<string, keyof HealthCheckTimings>> = {
    inter: "intervalMs",
    fastinter: "fastIntervalMs",
    downinter: "downIntervalMs",
    fall: "fall",
    rise: "rise",
};

function timingsFromWords(words: readonly string[]): Partial<HealthCheckTimings> {
    const out: Partial<Record<keyof HealthCheckTimings, number>> = {};
    words.forEach((word, i) => {
        const field = TIMING_KEYWORDS[word];
        const value = Number(words[i + 1]);
        if (field && Number.isFinite(value)) out[field] = value;
    });
    return out;
}

function hostPort(text: string): { address: string; port: number } | undefined {
    const m = /^([^:\s]+):(\d+)$/.exec(text);
    return m ? { address: m[1], port: Number(m[2]) } : undefined;
}

/** A frontend/backend fragment or a single server line, as renderHaproxyFragment and renderHaproxyServerLine write them. */
export function readHaproxyPool(text: string): ObservedPool | undefined {
    let frontend: ObservedPool["frontend"];
    let method: string | undefined;
    let path: string | undefined;
    let expectStatus: number | undefined;
    let kind: ObservedCheckKind | undefined;
    const poolTimings: Partial<Record<keyof HealthCheckTimings, number>> = {};
    const servers: ObservedServer[] = [];
    let sawBackend = false;
    for (const raw of text.split("\n")) {
        const words = raw.trim().split(/\s+/);
        if (words[0] === "" || words[0].startsWith("#")) continue;
        if (words[0] === "backend") sawBackend = true;
        else if (words[0] === "bind" && words[1]) frontend = hostPort(words[1]);
        else if (words[0] === "option" && words[1] === "httpchk") {
            kind = "http";
            // `option httpchk GET /readyz`; a lone URI means GET (HAProxy's rule).
            if (words.length >= 4) [method, path] = [words[2], words[3]];
            else [method, path] = ["GET", words[2] ?? "/"];
        } else if (words[0] === "option" && words[1] === "ssl-hello-chk") kind = "tls-hello";
        else if (words[0] === "http-check" && words[1] === "expect" && words[2] === "status") expectStatus = Number(words[3]);
        else if (words[0] === "timeout" && words[1] === "check") poolTimings.timeoutMs = Number(words[2]);
        else if (words[0] === "server" && words[1] && words[2]) {
            const at = hostPort(words[2]);
            if (!at) continue;
            const options = words.slice(3);
            servers.push({
                name: words[1],
                ...at,
                checked: options.includes("check"),
                tls: options.includes("check-ssl") || options.includes("ssl"),
                timings: timingsFromWords(options),
            });
        }
    }
    if (!sawBackend && servers.length === 0) return undefined;
    const check = sawBackend
        ? { kind: kind ?? (servers.some((s) => s.checked) ? "tcp" : "none"), ...(method ? { method } : {}), ...(path ? { path } : {}), ...(expectStatus !== undefined ? { expectStatus } : {}), timings: poolTimings }
        : undefined;
    return { ...(frontend ? { frontend } : {}), ...(check ? { check } : {}), servers };
}

const PFSENSE_CHECK_KINDS: Readonly<Record<string, ObservedCheckKind>> = { HTTP: "http", Basic: "tcp", SSL: "tls-hello", none: "none" };

function pfsenseServer(item: unknown, checked: boolean): ObservedServer | undefined {
    if (!item || typeof item !== "object") return undefined;
    const s = item as Record<string, unknown>;
    if (typeof s.name !== "string" || typeof s.address !== "string") return undefined;
    return { name: s.name, address: s.address, port: Number(s.port), checked, tls: s.checkssl === "yes", timings: {} };
}

/** The desired-state document of haproxy-reconcile.php (apply or add-server), as pfsenseLoadBalancerState writes it. */
export function readPfsensePool(state: unknown): ObservedPool | undefined {
    if (!state || typeof state !== "object") return undefined;
    const s = state as Record<string, unknown>;
    if (s.schema !== PFSENSE_STATE_SCHEMA) return undefined;
    const pool = (s.pool ?? {}) as Record<string, unknown>;
    if (typeof pool.check_type !== "string") {
        // add-server: one member; the pool's check and timings are the ones phase 1 set.
        const server = pfsenseServer(s.server, true);
        return server ? { servers: [server] } : undefined;
    }
    const kind = PFSENSE_CHECK_KINDS[pool.check_type] ?? "other";
    const backendLines = String(pool.advanced_backend ?? "").split("\n").map((l) => l.trim().split(/\s+/));
    const expect = backendLines.find((w) => w[0] === "http-check" && w[1] === "expect" && w[2] === "status");
    const timeout = backendLines.find((w) => w[0] === "timeout" && w[1] === "check");
    const timings: Partial<HealthCheckTimings> = {
        ...(pool.checkinter !== undefined && pool.checkinter !== "" ? { intervalMs: Number(pool.checkinter) } : {}),
        ...timingsFromWords(String(pool.advanced ?? "").trim().split(/\s+/)),
        ...(timeout ? { timeoutMs: Number(timeout[2]) } : {}),
    };
    const frontend = (s.frontend ?? {}) as { a_extaddr?: { item?: { extaddr_custom?: unknown; extaddr_port?: unknown }[] } };
    const bind = frontend.a_extaddr?.item?.[0];
    const servers = (Array.isArray(s.servers) ? s.servers : []).map((item) => pfsenseServer(item, kind !== "none")).filter((x): x is ObservedServer => !!x);
    return {
        ...(bind && typeof bind.extaddr_custom === "string" ? { frontend: { address: bind.extaddr_custom, port: Number(bind.extaddr_port) } } : {}),
        check: {
            kind,
            ...(typeof pool.httpcheck_method === "string" ? { method: pool.httpcheck_method } : {}),
            ...(typeof pool.monitor_uri === "string" ? { path: pool.monitor_uri } : {}),
            ...(expect ? { expectStatus: Number(expect[3]) } : {}),
            timings,
        },
        servers,
    };
}

/** The pool in what a load-balancer command ships on stdin, whichever kind of LB it is for. */
export function readLoadBalancerPayload(stdin: string): ObservedPool | undefined {
    let state: unknown;
    try {
        state = readPhpState(stdin);
    } catch {
        return undefined; // a nowdoc that is not JSON is no pool of ours
    }
    if (state !== undefined) return readPfsensePool(state);
    const payload = readBashPayload(stdin);
    return payload === undefined ? undefined : readHaproxyPool(payload);
}

/** The slowest the policy lets an unready apiserver stay in the pool by default (this project's timings give 1.5 s). */
export const DEFAULT_MAX_DETECTION_MS = 2000;

/** A server's timings: its own, else the pool's, else HAProxy's defaults. */
export function effectiveTimings(pool: ObservedPool, server: ObservedServer): Pick<HealthCheckTimings, "intervalMs" | "fastIntervalMs" | "fall"> {
    const t = { ...pool.check?.timings, ...server.timings };
    const intervalMs = t.intervalMs ?? HAPROXY_DEFAULT_TIMINGS.intervalMs;
    return { intervalMs, fastIntervalMs: t.fastIntervalMs ?? intervalMs, fall: t.fall ?? HAPROXY_DEFAULT_TIMINGS.fall };
}

/**
 * The apiserver pool's rule: HTTPS GET /readyz expecting 200 on every server, and an unready
 * apiserver out of the pool within `maxDetectionMs`. A TCP or TLS-hello check only sees that the
 * port answers; /healthz is deprecated since Kubernetes 1.16 (and, like /livez, says "alive",
 * not "can serve"). Member payloads (one server, the pool's check set in phase 1) are checked
 * for what they carry: the server is checked, over TLS.
 */
export function checkApiserverHealthCheck(pool: ObservedPool, maxDetectionMs: number): string[] {
    const out: string[] = [];
    const check = pool.check;
    if (check) {
        if (check.kind === "tcp" || check.kind === "tls-hello" || check.kind === "none" || check.kind === "other") {
            const what = { tcp: "a TCP connect check", "tls-hello": "a TLS hello check", none: "no health check", other: "a check that is not HTTP" }[check.kind];
            out.push(
                `the apiserver pool uses ${what}: it only sees that the port answers, so an apiserver that is up but not ready ` +
                    `(etcd unreachable, shutting down) keeps receiving requests. Check HTTPS GET /readyz.`,
            );
        } else {
            if (check.path === "/healthz") {
                out.push("the apiserver pool checks /healthz, deprecated since Kubernetes 1.16 and not a readiness signal; check /readyz, which turns false while the apiserver cannot serve and during its graceful shutdown");
            } else if (check.path !== "/readyz") {
                out.push(`the apiserver pool checks ${check.path ?? "no path"}, not /readyz: only /readyz says the apiserver can serve (it turns false while etcd is unreachable and during shutdown)`);
            }
            if (check.method !== undefined && check.method !== "GET") out.push(`the apiserver pool's check uses ${check.method}; /readyz answers GET`);
            if (check.expectStatus !== undefined && check.expectStatus !== 200) out.push(`the apiserver pool's check expects status ${check.expectStatus}; a ready apiserver answers /readyz with 200`);
        }
    }
    const httpPool = !check || check.kind === "http";
    for (const server of pool.servers) {
        if (!server.checked) {
            out.push(`apiserver pool server ${server.name} (${server.address}:${server.port}) is not health-checked: it stays in the pool when its apiserver fails`);
            continue;
        }
        if (httpPool && !server.tls) {
            out.push(`apiserver pool server ${server.name} is checked over plain HTTP: the apiserver port speaks only TLS, so /readyz is never read and the check cannot pass (check over TLS: check-ssl, pfSense checkssl)`);
        }
        if (!pool.check && Object.keys(server.timings).length === 0) continue; // a pfSense member: the pool's timings apply
        const t = effectiveTimings(pool, server);
        const bound = ejectionBoundMs({ ...DEFAULT_HEALTH_CHECK_TIMINGS, ...t });
        if (bound > maxDetectionMs) {
            out.push(
                `apiserver pool server ${server.name}: an unready apiserver stays in the pool up to ${bound} ms ` +
                    `(inter ${t.intervalMs} + (fall ${t.fall} - 1) x fastinter ${t.fastIntervalMs}), slower than the bound of ${maxDetectionMs} ms`,
            );
        }
    }
    return out;
}
