/**
 * The load balancer with real HAProxy (Debian's haproxy, master-worker mode) in front of three
 * fake apiservers (TLS fixtures answering /readyz), configured by the real install script from
 * the rendered fragment. Loopback only; every process is stopped in after().
 */
import { strict as assert } from "assert";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { haproxyCommand } from "../../components/loadBalancer/shared";
import { runShippedAsync } from "../helpers/shipped";
import { apiserverPool, ApiserverPool, PoolServer, renderHaproxyFragment, renderHaproxyServerLine } from "@ha-control-plane/topology";
import { FakeApiserver, selfSignedCert } from "../fixtures/loadBalancer/fakeApiserver";
import { HaproxyProcess, sleep, testGlobal } from "../fixtures/loadBalancer/haproxyProcess";
import { DAEMON_HOOK_TIMEOUT_MS, DaemonGroup, withFreshPorts } from "../helpers/daemons";
import { failures, Load } from "../fixtures/loadBalancer/load";
import { run, scriptPath } from "./scriptRunner";

const LB_SCRIPT = scriptPath("haproxy/apiserver-lb.sh");
/** Caps on waits for HAProxy to change a server's state: they end when it does. */
const STATUS_CAP_MS = 30_000;
/** A request HAProxy sent before the ejection may still be on its way to the backend. */
const IN_FLIGHT_MS = 500;

/** Until `count` requests started at or after `since` have completed (capped). */
async function waitForRequests(load: Load, since: number, count: number): Promise<void> {
    const deadline = performance.now() + STATUS_CAP_MS;
    while (load.results.filter((r) => r.start >= since).length < count && performance.now() < deadline) await sleep(20);
}

describe("apiserver LB on a real HAProxy (fake apiservers on loopback)", function () {
    this.timeout(30_000);
    let dir: string;
    let fakes: FakeApiserver[];
    let pool: ApiserverPool;
    let hap: HaproxyProcess | undefined;
    let cfg: string;
    let port: number;
    const server = (f: FakeApiserver): PoolServer => ({ name: f.name, address: "127.0.0.1", port: f.port });
    const common = () => ["--config", cfg, "--state-dir", path.join(dir, "state"), "--owner", "ha-control-plane/test", "--master-socket", path.join(dir, "master.sock")];
    const backend = () => pool.backend.name;

    const daemons = new DaemonGroup();

    before(async function () {
        this.timeout(DAEMON_HOOK_TIMEOUT_MS);
        dir = mkdtempSync(path.join(tmpdir(), "lb-failover-"));
        const tls = selfSignedCert();
        fakes = await Promise.all(["master-a", "master-b", "master-c"].map((n) => FakeApiserver.start(n, tls)));
        cfg = path.join(dir, "haproxy.cfg");
        // The frontend's port is in the installed config: a taken one means installing it again.
        hap = await withFreshPorts(1, async ([frontend]) => {
            port = frontend;
            pool = apiserverPool({ vip: "127.0.0.1", apiserverPort: port }, fakes.slice(0, 2).map(server));
            writeFileSync(cfg, testGlobal(dir));
            // Installed by the script by hand (no HAProxy running yet, so no reload), then started.
            writeFileSync(path.join(dir, "fragment.cfg"), renderHaproxyFragment(pool, { comment: "test" }));
            const apply = await run("bash", [LB_SCRIPT, "apply", "--fragment", path.join(dir, "fragment.cfg"), "--keep", "master-c", ...common()]);
            assert.equal(apply.code, 0, apply.stderr);
            return HaproxyProcess.start(dir, cfg, port, daemons);
        });
        for (const f of fakes.slice(0, 2)) assert.ok(await hap.waitStatus(backend(), f.name, "UP", STATUS_CAP_MS), `${f.name} UP`);
    });

    after(async () => {
        await daemons.stopAll();
        await Promise.all((fakes ?? []).map((f) => f.kill()));
        if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("installs a block that passes haproxy -c and serves through the VIP", async () => {
        const text = readFileSync(cfg, "utf8");
        assert.match(text, /# BEGIN ha-control-plane\/test apiserver load balancer/);
        assert.match(text, /option httpchk GET \/readyz/);
        const load = new Load(port, 2);
        await waitForRequests(load, 0, 10);
        const results = await load.stop();
        assert.equal(failures(results).length, 0);
        assert.deepEqual(new Set(results.map((r) => r.backend)), new Set(["master-a", "master-b"]));
    });

    // How fast (against the configured bound and kubeadm's documented config) is a figure of
    // `npm run bench:lb`; here the waits are only capped, so a busy machine cannot fail them.
    it("stops sending new connections to a backend whose /readyz turns 500 (detection time: npm run bench:lb)", async () => {
        const [, b] = fakes;
        const load = new Load(port, 2);
        await sleep(200);
        const t0 = performance.now();
        b.setReady(false);
        const ejectedAfter = await hap!.waitStatus(backend(), b.name, "DOWN", STATUS_CAP_MS, t0);
        await waitForRequests(load, t0 + (ejectedAfter ?? 0) + IN_FLIGHT_MS, 20);
        const results = await load.stop();
        b.setReady(true);
        assert.ok(ejectedAfter !== undefined, "master-b was never marked DOWN");
        assert.equal(b.servedSince(t0 + ejectedAfter + IN_FLIGHT_MS), 0, "no new connection reached the unready backend after its ejection");
        assert.equal(failures(results).length, 0, "an unready backend still answers, so nothing fails meanwhile");
        assert.ok(await hap!.waitStatus(backend(), b.name, "UP", STATUS_CAP_MS), "master-b back UP after /readyz recovers");
    });

    it("costs no failed client request when a backend is killed (retries + redispatch)", async () => {
        const [a] = fakes;
        const load = new Load(port, 4, 2);
        await sleep(200);
        const killedAt = performance.now();
        await a.kill();
        const killDone = performance.now();
        const downAfter = await hap!.waitStatus(backend(), a.name, "DOWN", STATUS_CAP_MS, killedAt);
        await waitForRequests(load, killDone, 21);
        const results = await load.stop();
        await a.restart();
        assert.ok(downAfter !== undefined, "the killed backend was never marked DOWN");
        // Connections open at the moment of the kill break with it (as with any TCP proxy); every
        // request started once it was dead was redispatched to a live backend.
        const after = results.filter((r) => r.start >= killDone);
        assert.ok(after.length > 20, `enough requests while it was dead (${after.length})`);
        assert.deepEqual(failures(after), [], "failed requests after the kill");
        assert.ok(await hap!.waitStatus(backend(), a.name, "UP", STATUS_CAP_MS), "master-a back UP after restart");
    });

    it("adds a backend with a seamless reload without failing a client request", async () => {
        const c = fakes[2];
        const load = new Load(port, 4, 2);
        await sleep(200);
        // Exactly what the program ships (haproxyCommand): sudo -n bash -s, the server line in front of the script.
        const step = haproxyCommand("ubuntu", ["add-server", "--name", c.name, ...common(), "--wait-up", "60"], ["remove-server", "--name", c.name, ...common()], renderHaproxyServerLine(pool, server(c)));
        const shipped = await runShippedAsync(step, process.env);
        const add = { code: shipped.status, stdout: shipped.stdout, stderr: shipped.stderr };
        const deadline = performance.now() + STATUS_CAP_MS;
        while (!load.results.some((r) => r.backend === c.name) && performance.now() < deadline) await sleep(20);
        await waitForRequests(load, performance.now(), 10);
        const results = await load.stop();
        assert.equal(add.code, 0, add.stderr);
        assert.match(add.stdout, /haproxy reloaded/);
        assert.match(add.stdout, /UP in apiserver_nodes: master-c/);
        assert.deepEqual(failures(results), [], "failed requests across the reload");
        assert.ok(results.some((r) => r.backend === "master-c"), "the new backend receives traffic");
        const again = await runShippedAsync(step, process.env);
        assert.equal(again.status, 0, again.stderr);
        assert.match(again.stdout, /no change/);
    });

    it("keeps the config untouched when haproxy -c refuses it", async () => {
        const before = readFileSync(cfg, "utf8");
        // Shipped as phase 1 ships it: the fragment in front of the script on stdin.
        const step = haproxyCommand("ubuntu", ["apply", ...common()], ["delete", ...common()], "backend apiserver_nodes\n    mode tcp\n    server x 127.0.0.1:1 bogus-keyword\n");
        const res = await runShippedAsync(step, process.env);
        assert.equal(res.status, 1);
        assert.match(res.stderr, /haproxy -c refused the new configuration/);
        assert.equal(readFileSync(cfg, "utf8"), before);
    });
});
