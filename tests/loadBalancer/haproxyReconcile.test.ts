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
    poolServer,
    readPhpState,
} from "@ha-control-plane/topology";
import { loadBalancerCommand } from "../../components/loadBalancer/apiserverLoadBalancer";
import { poolMemberCommand } from "../../components/loadBalancer/poolMember";
import { pfsenseCommand } from "../../components/loadBalancer/shared";
import { runShippedAsync } from "../helpers/shipped";
import { labTopology } from "../helpers/lab";
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

    const stubEnv = (env: Record<string, string> = {}) => ({ ...process.env, HA_PFSENSE_API: STUB, PFSENSE_STUB_CONFIG: configFile, PFSENSE_STUB_LOG: logFile, ...env });
    /**
     * ACTION with DOC, shipped as the components ship it: pfsenseCommand's `php -- ACTION` with
     * the script on stdin and the document in front as a constant (PHP defines no STDIN/STDERR
     * constants there). apply/delete are phase 1's create/delete, add/remove-server a member's.
     */
    const php = async (action: string, doc: unknown, env: Record<string, string> = {}): Promise<ScriptResult> => {
        const pair = action.endsWith("-server") ? (["add-server", "remove-server"] as const) : (["apply", "delete"] as const);
        const step = pfsenseCommand(pair.includes(action as never) ? pair[0] : action, pair[1], doc);
        const res = await runShippedAsync(step, stubEnv(env), { action: action === pair[1] ? "delete" : "create", timeoutMs: 30_000 });
        assert.doesNotMatch(res.stderr, /Undefined constant|PHP Fatal|Stack trace/, "a designed refusal, not a PHP error");
        return { code: res.status, stdout: res.stdout, stderr: res.stderr };
    };
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

    it("runs the same by hand (php script ACTION < document), refusals included", async () => {
        const byHand = (action: string, doc: unknown, env: Record<string, string> = {}) => run("php", [SCRIPT, action], { stdin: JSON.stringify(doc), env: stubEnv(env) });
        const res = await byHand("apply", stateOf());
        assert.equal(res.code, 0, res.stderr);
        assert.match(res.stdout, /\+ pool apiserver_nodes/);
        assert.ok(ours(pools(), "apiserver_nodes"));
        const bad = await run("php", [SCRIPT, "apply"], { stdin: "not json", env: stubEnv() });
        assert.equal(bad.code, 2);
        assert.match(bad.stderr, /^haproxy-reconcile: the desired state is not a JSON object \(Syntax error\)$/m);
    });

    it("the lab's own phase 1 and member commands (loadBalancerCommand, poolMemberCommand) run as built", async () => {
        const topology = labTopology();
        const lb = loadBalancerCommand(topology);
        assert.equal(lb.create, "php -- apply");
        assert.equal((readPhpState(lb.stdin) as { owner: string }).owner, "ha-control-plane/lab");
        const applied = await runShippedAsync(lb, stubEnv());
        assert.equal(applied.status, 0, applied.stderr);
        assert.match(applied.stdout, /\+ frontend apiserver_proxy_6443 10\.0\.20\.99:6443 -> apiserver_nodes/);
        const member = poolMemberCommand(topology, topology.newMasters[0]);
        const added = await runShippedAsync(member, stubEnv());
        assert.equal(added.status, 0, added.stderr);
        assert.match(added.stdout, /\+ server apiserver_nodes\/k8s-master-2/);
        const removed = await runShippedAsync(member, stubEnv(), { action: "delete" });
        assert.equal(removed.status, 0, removed.stderr);
        const deleted = await runShippedAsync(lb, stubEnv(), { action: "delete" });
        assert.equal(deleted.status, 0, deleted.stderr);
        assert.equal(ours(pools(), "apiserver_nodes"), undefined);
    });

    describe("every refusal, through the shipped path, with its exit code and message (header: 1 pfSense refused, 2 bad input, 3 in the way, 4 not UP)", () => {
        const withConfig = (edit: (cfg: Json) => void) => {
            const cfg = config();
            edit(cfg);
            writeFileSync(configFile, JSON.stringify(cfg));
            return readFileSync(configFile, "utf8");
        };
        const unchanged = (saved: string) => {
            assert.equal(readFileSync(configFile, "utf8"), saved, "nothing written");
            assert.ok(!log().some((l) => l.startsWith("write_config") || l === "haproxy_reload"), "no write, no reload");
        };

        it("2: an unknown action (the usage)", async () => {
            const res = await php("frobnicate", stateOf());
            assert.equal(res.code, 2);
            assert.match(res.stderr, /^haproxy-reconcile: usage: php haproxy-reconcile\.php apply\|delete\|add-server\|remove-server\|status < document\.json$/m);
        });

        it("2: a document of another schema, or one missing a field", async () => {
            const other = await php("apply", { ...stateOf(), schema: "something/else" });
            assert.equal(other.code, 2);
            assert.match(other.stderr, /unknown document schema "something\/else", expected ha-control-plane\/pfsense-haproxy\/v1/);
            const { owner: _owner, ...noOwner } = stateOf();
            const missing = await php("apply", noOwner);
            assert.equal(missing.code, 2);
            assert.match(missing.stderr, /^haproxy-reconcile: the document has no owner$/m);
            const { frontend: _frontend, ...noFrontend } = stateOf();
            const needs = await php("apply", noFrontend);
            assert.equal(needs.code, 2);
            assert.match(needs.stderr, /this action needs 'frontend' in the document/);
        });

        it("2: a named interface that does not exist", async () => {
            const saved = readFileSync(configFile, "utf8");
            const res = await php("apply", { ...stateOf(), vip: { ...stateOf().vip, interface: "opt9" } });
            assert.equal(res.code, 2);
            assert.match(res.stderr, /interface 'opt9' does not exist on this pfSense \(Interfaces > Assignments lists: wan, lan, opt2\)/);
            unchanged(saved);
        });

        it("2: interface auto, and no interface or several hold the VIP", async () => {
            const none = await php("apply", { ...stateOf(), vip: { ...stateOf().vip, subnet: "172.16.5.5" } });
            assert.equal(none.code, 2);
            assert.match(none.stderr, /cannot choose the interface for 172\.16\.5\.5: no enabled interface has a static subnet holding it; set loadBalancer\.interface to its id/);
            const saved = withConfig((cfg) => (cfg.interfaces.opt3 = { enable: "", if: "igb2", ipaddr: "10.0.20.2", subnet: "24" }));
            const several = await php("apply", stateOf());
            assert.equal(several.code, 2);
            assert.match(several.stderr, /cannot choose the interface for 10\.0\.20\.99: several do \(opt2, opt3\); set loadBalancer\.interface to its id/);
            unchanged(saved);
        });

        it("2: HAProxy disabled; and a member before its pool exists", async () => {
            const member = pfsenseMemberState(poolOf(), master2, { ...OWNER, waitUpSeconds: 5 });
            const early = await php("add-server", member);
            assert.equal(early.code, 2);
            assert.match(early.stderr, /the pool apiserver_nodes does not exist yet: apply the load balancer \(phase 1\) first/);
            withConfig((cfg) => delete cfg.installedpackages.haproxy.enable);
            const res = await php("apply", stateOf());
            assert.equal(res.code, 2);
            assert.match(res.stderr, /HAProxy is not enabled on this pfSense: tick Services > HAProxy > Settings > Enable HAProxy/);
        });

        it("1: haproxy -c refuses (nothing written), and a failed reload", async () => {
            const saved = readFileSync(configFile, "utf8");
            const check = await php("apply", stateOf(), { PFSENSE_STUB_CHECK_FAIL: "[ALERT] parsing [haproxy.cfg:42]: unknown keyword" });
            assert.equal(check.code, 1);
            assert.match(check.stderr, /HAProxy refused the new configuration; nothing was written: [\s\S]*unknown keyword/);
            unchanged(saved);
            const reload = await php("apply", stateOf(), { PFSENSE_STUB_RELOAD_FAIL: "[ALERT] cannot bind socket [10.0.20.99:6443]" });
            assert.equal(reload.code, 1);
            assert.match(reload.stderr, /^haproxy-reconcile: HAProxy did not reload: Errors found while starting haproxy\n\[ALERT\] cannot bind socket/m);
            // The config was written: a re-run once the cause is fixed finds nothing to change and reloads nothing.
            const again = await php("apply", stateOf());
            assert.equal(again.code, 0, again.stderr);
        });

        it("3: a frontend or VIP of our name without the marker; another frontend on the VIP's port; a foreign frontend using our pool", async () => {
            const saved = withConfig((cfg) => cfg.installedpackages.haproxy.ha_backends.item.push({ name: "apiserver_proxy_6443", status: "active", desc: "by hand" }));
            const fe = await php("apply", stateOf());
            assert.equal(fe.code, 3);
            assert.match(fe.stderr, /the frontend 'apiserver_proxy_6443' exists but is not managed by this stack \(no '\[managed by ha-control-plane\/test\]'\)\. Delete or rename it in Services > HAProxy > Frontend/);
            unchanged(saved);
            withConfig((cfg) => {
                cfg.installedpackages.haproxy.ha_backends.item.pop();
                cfg.installedpackages.haproxy.ha_backends.item.push({
                    name: "old_k8s",
                    status: "active",
                    a_extaddr: { item: [{ extaddr: "custom", extaddr_custom: "10.0.20.99", extaddr_port: "6443" }] },
                });
            });
            const bind = await php("apply", stateOf());
            assert.equal(bind.code, 3);
            assert.match(bind.stderr, /the frontend 'old_k8s' already listens on 10\.0\.20\.99:6443; move or disable it first/);
            withConfig((cfg) => cfg.installedpackages.haproxy.ha_backends.item.pop());
            assert.equal((await php("apply", stateOf())).code, 0);
            withConfig((cfg) => cfg.installedpackages.haproxy.ha_backends.item.push({ name: "shared", status: "active", backend_serverpool: "apiserver_nodes" }));
            const uses = await php("delete", stateOf());
            assert.equal(uses.code, 3);
            assert.match(uses.stderr, /the frontend 'shared' uses the pool apiserver_nodes; point it elsewhere before removing the pool/);
        });

        it("4: servers not UP within waitUpSeconds, each named with its check", async () => {
            const res = await php("apply", stateOf([master], 1), { PFSENSE_STUB_STATUS: "DOWN" });
            assert.equal(res.code, 4);
            assert.match(res.stderr, /not UP after 1s in apiserver_nodes_ipvANY: k8s-master DOWN \(check L7STS 500\)/);
        });
    });
});
