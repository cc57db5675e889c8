import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "fs";
import { createServer, Server } from "net";
import { tmpdir } from "os";
import * as path from "path";
import { SCRIPTS_DIR } from "../../components/scriptFile";
import { lbPoolCheckCommand } from "../../components/clusterOps/verification";
import { runShippedAsync } from "../helpers/shipped";
import { cli } from "../fixtures/loadBalancer/haproxyProcess";
import { DAEMON_HOOK_TIMEOUT_MS, DaemonGroup, waitForAnswer } from "../helpers/daemons";

/**
 * scripts/cluster/lb-pool-check.php, phase 6's pool gate, as the program ships it: real php-cli
 * against a stand-in for HAProxy's stats socket, then against a real HAProxy.
 */
describe("lb-pool-check.php: every master in the pool and UP, from HAProxy's stats socket (php-cli, a stand-in socket)", function () {
    this.timeout(30_000);
    let dir: string;
    let server: Server;
    const socket = () => path.join(dir, "haproxy.sock");
    const header = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,";
    const row = (px: string, sv: string, status: string, check: string, code: string) => `${px},${sv},0,0,0,1,,5,0,0,,0,,0,0,0,0,${status},1,1,0,0,0,100,0,,1,3,1,,5,,2,0,,1,${check},${code},`;
    let stat = "";
    const daemons = new DaemonGroup();
    before(async () => {
        dir = mkdtempSync(path.join(tmpdir(), "hacp-lb-"));
        // HAProxy's stats socket protocol: one command per connection, the answer, then close.
        server = createServer((c) => c.once("data", () => c.end(stat)));
        await new Promise<void>((resolve) => server.listen(socket(), resolve));
    });
    after(async () => {
        await daemons.stopAll();
        if (server) await new Promise((resolve) => server.close(resolve));
        if (dir) rmSync(dir, { recursive: true, force: true });
    });
    /** The phase 6 pool gate as verification.ts builds it (`php --`, the script on stdin), for a Linux HAProxy host's user. */
    const gateStep = (sock: string, servers: string, timeoutSeconds = 1, extra: Partial<Parameters<typeof lbPoolCheckCommand>[0]> = {}) =>
        lbPoolCheckCommand({ kind: "haproxy", user: "ubuntu", socket: sock, backend: "apiserver_nodes", servers: servers.split(","), timeoutSeconds, ...extra });
    // Asynchronous: the stand-in socket lives in this process.
    const shipped = async (step: ReturnType<typeof lbPoolCheckCommand>) => {
        const run = await runShippedAsync(step, process.env, { timeoutMs: 20_000 });
        assert.doesNotMatch(run.stderr, /Undefined constant|PHP Fatal/, "a designed failure, not a PHP error");
        return { code: run.status, out: run.stdout + run.stderr, stdout: run.stdout, stderr: run.stderr };
    };
    const check = (servers: string) => shipped(gateStep(socket(), servers));

    it("the usage and socket failures exit 2, with their message on stderr", async () => {
        const noSocket = await shipped(gateStep(path.join(dir, "absent.sock"), "k8s-master"));
        assert.equal(noSocket.code, 2);
        assert.match(noSocket.stderr, /^lb-pool-check: cannot open HAProxy's stats socket .*absent\.sock: /m);
        const step = gateStep(socket(), "k8s-master");
        const bad = await shipped({ ...step, create: step.create.replace("--timeout 1", "--timeout soon") });
        assert.equal(bad.code, 2);
        assert.match(bad.stderr, /^lb-pool-check: --timeout must be whole seconds \(see the usage at the top of the script\)$/m);
        const unknown = await shipped({ ...step, create: `${step.create} --frobnicate 1` });
        assert.equal(unknown.code, 2);
        assert.match(unknown.stderr, /unknown or incomplete argument '--frobnicate'/);
        const none = await shipped({ ...step, create: step.create.replace("--servers k8s-master", "--servers ,") });
        assert.equal(none.code, 2);
        assert.match(none.stderr, /--socket, --backend and --servers are required/);
    });

    it("on pfSense it runs as the admin, without sudo", () => {
        assert.match(gateStep("/tmp/haproxy.socket", "k8s-master", 60, { kind: "pfsense", user: "admin" }).create, /^php -- --socket \/tmp\/haproxy\.socket /);
        assert.match(gateStep("/run/haproxy/admin.sock", "k8s-master").create, /^sudo -n php -- /);
    });

    it("passes when every master is UP (pfSense's suffixed backend name included)", async () => {
        stat = [header, row("apiserver_proxy_6443", "FRONTEND", "OPEN", "", ""), ...["k8s-master", "k8s-master-2", "k8s-master-3"].map((m) => row("apiserver_nodes_ipvANY", m, "UP", "L7OK", "200")), ""].join("\n");
        const run = await check("k8s-master,k8s-master-2,k8s-master-3");
        assert.equal(run.code, 0, run.out);
        assert.match(run.out, /k8s-master-3 UP in apiserver_nodes_ipvANY/);
    });

    it("fails naming a DOWN master and a missing one; ignores other backends", async () => {
        stat = [header, row("apiserver_nodes", "k8s-master", "UP", "L7OK", "200"), row("apiserver_nodes", "k8s-master-2", "DOWN", "L7STS", "500"), row("mail_nodes", "k8s-master-3", "UP", "L4OK", ""), ""].join("\n");
        const run = await check("k8s-master,k8s-master-2,k8s-master-3");
        assert.equal(run.code, 1);
        assert.match(run.out, /k8s-master-2 is DOWN \(check L7STS 500\)/);
        assert.match(run.out, /k8s-master-3 is not in the pool/);
        assert.match(run.stderr, /^lb-pool-check: FAILED: 2 server\(s\) not UP in apiserver_nodes$/m);
        // Not yet checked, or failing its way down: not UP either.
        stat = [header, row("apiserver_nodes", "k8s-master", "UP", "INI", ""), row("apiserver_nodes", "k8s-master-2", "UP 1/3", "L7STS", "500"), ""].join("\n");
        const early = await check("k8s-master,k8s-master-2");
        assert.equal(early.code, 1);
        assert.match(early.out, /k8s-master is UP \(check INI\)/);
        assert.match(early.out, /k8s-master-2 is UP 1\/3 \(check L7STS 500\)/);
    });

    it("reads a real HAProxy's stats socket: a served backend is UP, a closed port DOWN", async function () {
        // Real haproxy (Debian's), TCP checks against a loopback listener and a closed port.
        const listener = createServer((c) => c.end());
        await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
        const closed = createServer();
        await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
        const closedPort = (closed.address() as { port: number }).port;
        await new Promise<void>((resolve) => closed.close(() => resolve()));
        const stats = path.join(dir, "admin.sock");
        const cfg = path.join(dir, "haproxy.cfg");
        writeFileSync(cfg, [
            "global", `    stats socket ${stats} mode 600 level admin`, "defaults", "    mode tcp", "    timeout connect 1s", "    timeout client 5s", "    timeout server 5s",
            "backend apiserver_nodes", "    default-server inter 200ms fall 2 rise 1",
            `    server k8s-master 127.0.0.1:${(listener.address() as { port: number }).port} check`,
            `    server k8s-master-2 127.0.0.1:${closedPort} check`, "",
        ].join("\n"));
        this.timeout(DAEMON_HOOK_TIMEOUT_MS);
        const haproxy = daemons.start("haproxy", "haproxy", ["-db", "-f", cfg]);
        try {
            // Answering on its stats socket: configured, checks running.
            await waitForAnswer("haproxy's stats socket", [haproxy], async () => existsSync(stats) && /^# pxname/.test(await cli(stats, "show stat").catch(() => "")));
            const run = (servers: string, timeout: string) => shipped(gateStep(stats, servers, Number(timeout)));
            const up = await run("k8s-master", "5");
            assert.equal(up.code, 0, up.out);
            const down = await run("k8s-master,k8s-master-2", "1");
            assert.equal(down.code, 1, down.out);
            assert.match(down.out, /k8s-master-2 is DOWN \(check L4CON/);
        } finally {
            await daemons.stop([haproxy]);
            await new Promise((resolve) => listener.close(resolve));
        }
    });

    it("php -l accepts it", () => {
        const lint = spawnSync("php", ["-l", path.join(SCRIPTS_DIR, "cluster/lb-pool-check.php")], { encoding: "utf8" });
        assert.equal(lint.status, 0, lint.stdout + lint.stderr);
    });
});
