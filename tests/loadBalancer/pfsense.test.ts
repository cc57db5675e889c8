/**
 * scripts/pfsense/haproxy-reconcile.php with the real php-cli, against a stand-in for pfSense's
 * config API (tests/fixtures/pfsense/pfsense-api-stub.php): pfSense itself (FreeBSD, config.xml,
 * the HAProxy package) cannot run here. The stand-in keeps the config in a JSON file and logs
 * every side effect (config writes, haproxy -c, reloads, VIP changes) for the assertions.
 */
import { strict as assert } from "assert";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import {
    apiserverPool,
    PfsenseLoadBalancerState,
    pfsenseLoadBalancerState,
    pfsenseMemberState,
    phpWithState,
    poolServer,
    readPhpState,
} from "../../topology";
import { run, ScriptResult, scriptPath } from "./scriptRunner";

const SCRIPT = scriptPath("pfsense/haproxy-reconcile.php");
const STUB = path.resolve(__dirname, "../fixtures/pfsense/pfsense-api-stub.php");
const FIXTURE = path.resolve(__dirname, "../fixtures/pfsense/config.json");
const OWNER = { owner: "ha-control-plane/test" };

type Json = Record<string, any>;

const master = poolServer({ name: "k8s-master", ip: "10.0.20.100" }, 6443);
const master2 = poolServer({ name: "k8s-master-2", ip: "10.0.20.110" }, 6443);
const poolOf = (servers = [master]) => apiserverPool({ vip: "10.0.20.99", apiserverPort: 6443 }, servers);
const stateOf = (servers = [master], waitUpSeconds = 5): PfsenseLoadBalancerState =>
    pfsenseLoadBalancerState(poolOf(servers), { ...OWNER, interface: "auto", prefixLength: 24, memberServers: ["k8s-master-2", "k8s-master-3"], waitUpSeconds });

describe("pfSense reconcile script (php-cli against a stand-in for pfSense's config API)", function () {
    this.timeout(20_000);
    let dir: string;
    let configFile: string;
    let logFile: string;

    const php = (action: string, doc: unknown, env: Record<string, string> = {}): Promise<ScriptResult> =>
        run("php", [SCRIPT, action], {
            stdin: JSON.stringify(doc),
            env: { HA_PFSENSE_API: STUB, PFSENSE_STUB_CONFIG: configFile, PFSENSE_STUB_LOG: logFile, ...env },
        });
    const config = (): Json => JSON.parse(readFileSync(configFile, "utf8")) as Json;
    const log = (): string[] => readFileSync(logFile, "utf8").split("\n").filter(Boolean);
    const pools = (): Json[] => config().installedpackages.haproxy.ha_pools.item;
    const frontends = (): Json[] => config().installedpackages.haproxy.ha_backends.item;
    const ours = (items: Json[], name: string) => items.find((i) => i.name === name);
    const foreign = () => ({
        pool: ours(pools(), "mailserver_smtp"),
        frontend: ours(frontends(), "mailserver_proxy_25"),
        vip: config().virtualip.vip.find((v: Json) => v.subnet === "192.168.1.25"),
    });
    const b64 = (s: string) => Buffer.from(s, "base64").toString("utf8");

    beforeEach(() => {
        dir = mkdtempSync(path.join(tmpdir(), "pfsense-"));
        configFile = path.join(dir, "config.json");
        logFile = path.join(dir, "log");
        copyFileSync(FIXTURE, configFile);
        writeFileSync(logFile, "");
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it("is valid PHP (php -l)", async () => {
        const res = await run("php", ["-l", SCRIPT]);
        assert.equal(res.code, 0, res.stdout + res.stderr);
    });

    it("first run creates the VIP, the pool (HTTPS GET /readyz, no TLS verify) and the frontend, then reloads once", async () => {
        const before = foreign();
        const res = await php("apply", stateOf());
        assert.equal(res.code, 0, res.stderr);
        assert.match(res.stdout, /\+ vip 10\.0\.20\.99\/24 on opt2/);
        assert.match(res.stdout, /\+ pool apiserver_nodes/);
        assert.match(res.stdout, /\+ frontend apiserver_proxy_6443 10\.0\.20\.99:6443 -> apiserver_nodes/);
        assert.match(res.stdout, /UP in apiserver_nodes_ipvANY: k8s-master/);

        const pool = ours(pools(), "apiserver_nodes")!;
        assert.equal(pool.check_type, "HTTP");
        assert.equal(pool.httpcheck_method, "GET");
        assert.equal(pool.monitor_uri, "/readyz");
        assert.equal(pool.checkinter, "1000");
        assert.equal(pool.retries, "3");
        assert.match(pool.id, /^\d+$/, "the package's numeric id is assigned");
        assert.match(b64(pool.advanced_backend), /^# \[managed by ha-control-plane\/test\]/);
        assert.match(b64(pool.advanced_backend), /http-check expect status 200/);
        assert.match(b64(pool.advanced_backend), /option redispatch 1/);
        assert.equal(b64(pool.advanced), "fastinter 250 downinter 1000 fall 3 rise 2");
        const [server] = pool.ha_servers.item;
        assert.equal(server.name, "k8s-master");
        assert.equal(server.address, "10.0.20.100");
        assert.equal(server.port, "6443");
        assert.equal(server.checkssl, "yes", "checks over TLS");
        assert.equal(server.ssl, undefined, "no 'ssl': traffic passes through, the apiserver terminates TLS");
        assert.equal(server.sslserververify, undefined, "unset renders 'verify none' (self-signed apiserver cert)");

        const fe = ours(frontends(), "apiserver_proxy_6443")!;
        assert.equal(fe.type, "tcp");
        assert.equal(fe.status, "active");
        assert.equal(fe.backend_serverpool, "apiserver_nodes");
        assert.deepEqual(fe.a_extaddr, { item: [{ extaddr: "custom", extaddr_custom: "10.0.20.99", extaddr_port: "6443" }] });
        assert.match(fe.desc, /\[managed by ha-control-plane\/test\]/);

        const vip = config().virtualip.vip.find((v: Json) => v.subnet === "10.0.20.99");
        assert.equal(vip.mode, "ipalias");
        assert.equal(vip.interface, "opt2", "auto picks the interface whose subnet holds the VIP");
        assert.equal(vip.subnet_bits, "24");
        assert.ok(vip.uniqid);

        assert.deepEqual(log(), [
            "haproxy_check: ok",
            "write_config: ha-control-plane/test: apiserver load balancer (4 changes)",
            "interface_ipalias_configure: 10.0.20.99/24 on opt2",
            "haproxy_reload",
        ]);
        assert.deepEqual(foreign(), before, "other pools, frontends and VIPs are untouched");
    });

    it("second run reports no change, writes nothing and does not reload", async () => {
        assert.equal((await php("apply", stateOf())).code, 0);
        const saved = readFileSync(configFile, "utf8");
        const lines = log().length;
        const res = await php("apply", stateOf());
        assert.equal(res.code, 0, res.stderr);
        assert.match(res.stdout, /no change: pfSense already matches/);
        assert.equal(readFileSync(configFile, "utf8"), saved);
        assert.equal(log().length, lines, "no write_config, no haproxy reload");
    });

    it("a changed backend list changes only that pool", async () => {
        assert.equal((await php("apply", stateOf())).code, 0);
        const before = { ...foreign(), fe: ours(frontends(), "apiserver_proxy_6443"), vip: config().virtualip.vip };
        const moved = poolServer({ name: "k8s-master", ip: "10.0.20.101" }, 6443);
        const extra = poolServer({ name: "k8s-master-x", ip: "10.0.20.120" }, 6443);
        const res = await php("apply", stateOf([moved, extra]));
        assert.equal(res.code, 0, res.stderr);
        assert.match(res.stdout, /~ server apiserver_nodes\/k8s-master: address/);
        assert.match(res.stdout, /\+ server apiserver_nodes\/k8s-master-x 10\.0\.20\.120:6443/);
        assert.doesNotMatch(res.stdout, /frontend|vip /);
        assert.deepEqual(ours(pools(), "apiserver_nodes")!.ha_servers.item.map((s: Json) => `${s.name} ${s.address}`), ["k8s-master 10.0.20.101", "k8s-master-x 10.0.20.120"]);
        assert.deepEqual({ ...foreign(), fe: ours(frontends(), "apiserver_proxy_6443"), vip: config().virtualip.vip }, before);
        assert.equal(log().filter((l) => l === "haproxy_reload").length, 2);
        assert.ok(!log().slice(4).some((l) => l.startsWith("interface_")), "the VIP is not reconfigured");
    });

    it("members join and leave one by one; apply keeps them; foreign items survive", async () => {
        assert.equal((await php("apply", stateOf())).code, 0);
        const member = pfsenseMemberState(poolOf(), master2, { ...OWNER, waitUpSeconds: 5 });
        const add = await php("add-server", member);
        assert.equal(add.code, 0, add.stderr);
        assert.match(add.stdout, /\+ server apiserver_nodes\/k8s-master-2 10\.0\.20\.110:6443/);
        assert.match(add.stdout, /UP in apiserver_nodes_ipvANY: k8s-master-2/);
        assert.match((await php("add-server", member)).stdout, /no change/);
        assert.match((await php("apply", stateOf())).stdout, /no change/, "apply leaves a member alone");
        const names = () => ours(pools(), "apiserver_nodes")!.ha_servers.item.map((s: Json) => s.name);
        assert.deepEqual(names(), ["k8s-master", "k8s-master-2"]);
        const remove = await php("remove-server", member);
        assert.equal(remove.code, 0, remove.stderr);
        assert.deepEqual(names(), ["k8s-master"]);
        assert.match((await php("remove-server", member)).stdout, /no change/);
        assert.equal(ours(pools(), "mailserver_smtp")!.ha_servers.item[0].name, "mail");
    });

    it("delete removes only what it owns, and the VIP after HAProxy let go of it", async () => {
        const before = foreign();
        assert.equal((await php("apply", stateOf())).code, 0);
        writeFileSync(logFile, "");
        const res = await php("delete", stateOf());
        assert.equal(res.code, 0, res.stderr);
        assert.equal(ours(pools(), "apiserver_nodes"), undefined);
        assert.equal(ours(frontends(), "apiserver_proxy_6443"), undefined);
        assert.equal(config().virtualip.vip.find((v: Json) => v.subnet === "10.0.20.99"), undefined);
        assert.deepEqual(foreign(), before);
        assert.deepEqual(log(), [
            "haproxy_check: ok",
            "write_config: ha-control-plane/test: remove apiserver load balancer (3 changes)",
            "haproxy_reload",
            "interface_vip_bring_down: 10.0.20.99",
        ]);
        assert.match((await php("delete", stateOf())).stdout, /no change/);
    });

    it("refuses a pool of the same name it does not own, and changes nothing", async () => {
        const cfg = config();
        cfg.installedpackages.haproxy.ha_pools.item.push({ name: "apiserver_nodes", id: "200", check_type: "Basic" });
        writeFileSync(configFile, JSON.stringify(cfg));
        const saved = readFileSync(configFile, "utf8");
        const res = await php("apply", stateOf());
        assert.equal(res.code, 3);
        assert.match(res.stderr, /backend pool 'apiserver_nodes' exists but is not managed by this stack/);
        assert.equal(readFileSync(configFile, "utf8"), saved);
        assert.deepEqual(log(), []);
        // delete leaves someone else's pool alone too
        assert.equal((await php("delete", stateOf())).code, 0);
        assert.ok(ours(pools(), "apiserver_nodes"));
    });

    it("writes nothing when haproxy -c refuses the new configuration", async () => {
        const saved = readFileSync(configFile, "utf8");
        const res = await php("apply", stateOf(), { PFSENSE_STUB_CHECK_FAIL: "[ALERT] parsing [haproxy.cfg:42]: unknown keyword" });
        assert.equal(res.code, 1);
        assert.match(res.stderr, /HAProxy refused the new configuration; nothing was written: [\s\S]*unknown keyword/);
        assert.equal(readFileSync(configFile, "utf8"), saved);
        assert.deepEqual(log(), ["haproxy_check: failed"]);
    });

    it("refuses to reload a disabled HAProxy (the package would stop it)", async () => {
        const cfg = config();
        delete cfg.installedpackages.haproxy.enable;
        writeFileSync(configFile, JSON.stringify(cfg));
        const res = await php("apply", stateOf());
        assert.equal(res.code, 2);
        assert.match(res.stderr, /HAProxy is not enabled on this pfSense/);
        assert.deepEqual(log(), []);
    });

    it("fails with the check result when a server does not come UP in time", async () => {
        const res = await php("apply", stateOf([master], 1), { PFSENSE_STUB_STATUS: "DOWN" });
        assert.equal(res.code, 4);
        assert.match(res.stderr, /not UP after 1s in apiserver_nodes_ipvANY: k8s-master DOWN \(check L7STS 500\)/);
    });

    it("runs the same when shipped on stdin with the document in front (php --)", async () => {
        const shipped = phpWithState(readFileSync(SCRIPT, "utf8"), stateOf());
        assert.deepEqual(readPhpState(shipped), stateOf());
        const res = await run("php", ["--", "apply"], { stdin: shipped, env: { HA_PFSENSE_API: STUB, PFSENSE_STUB_CONFIG: configFile, PFSENSE_STUB_LOG: logFile } });
        assert.equal(res.code, 0, res.stderr);
        assert.match(res.stdout, /\+ pool apiserver_nodes/);
        assert.ok(ours(pools(), "apiserver_nodes"));
    });
});
