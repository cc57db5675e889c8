/**
 * Phase 1.1's host alias on pfSense (Firewall > Aliases > Hosts, `k8s_apiserver_vip` -> the VIP):
 * scripts/pfsense/haproxy-reconcile.php run by the real php-cli against the stand-in for pfSense's
 * config API (tests/fixtures/pfsense/pfsense-api-stub.php; pfSense cannot run here), through the
 * exact command line and stdin the program registers for the load balancer.
 */
import { strict as assert } from "assert";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { ConfigError, loadTopology, readPhpState } from "@ha-control-plane/topology";
import { RecordedResource } from "../../tools/recorder";
import { ConfigEdit, labConfig, recordLab } from "../helpers/program";
import { run, ScriptResult, scriptPath } from "./scriptRunner";
import { readProjectFile } from "../../components/projectFiles";

const SCRIPT = scriptPath("pfsense/haproxy-reconcile.php");
const STUB = path.resolve(__dirname, "../fixtures/pfsense/pfsense-api-stub.php");
const FIXTURE = path.resolve(__dirname, "../fixtures/pfsense/config.json");

type Json = Record<string, any>;

/** The load balancer's command as phase 1 registers it on the lab stack (with `edit` applied). */
async function shippedCommand(edit?: ConfigEdit): Promise<RecordedResource> {
    const { resources } = await recordLab("1", edit);
    const lb = resources.find((r) => r.name === "apiserver-lb-pfsense" && r.type === "command:remote:Command");
    assert.ok(lb, "phase 1 registers the pfSense command");
    return lb;
}

describe("pfSense host alias for the VIP (php-cli against a stand-in for pfSense's config API, as the program ships it)", function () {
    this.timeout(30_000);
    let dir: string;
    let configFile: string;
    let logFile: string;
    let lb: RecordedResource;

    const env = () => ({ HA_PFSENSE_API: STUB, PFSENSE_STUB_CONFIG: configFile, PFSENSE_STUB_LOG: logFile });
    /** `create` or `delete` of the command, run by a shell as SSH runs it on pfSense, with the command's stdin. */
    const shipped = (command: RecordedResource, action: "create" | "delete"): Promise<ScriptResult> =>
        run("bash", ["-c", String(command.inputs[action])], { stdin: String(command.inputs.stdin), env: env() });
    /** The same document through the script file (refusals: the stdin form dies on STDERR until issue 9's fix). */
    const byFile = (command: RecordedResource, action: string): Promise<ScriptResult> =>
        run("php", [SCRIPT, action], { stdin: JSON.stringify(readPhpState(String(command.inputs.stdin))), env: env() });
    const config = (): Json => JSON.parse(readFileSync(configFile, "utf8")) as Json;
    const edit = (change: (cfg: Json) => void) => {
        const cfg = config();
        change(cfg);
        writeFileSync(configFile, JSON.stringify(cfg));
    };
    const aliases = (): Json[] => config().aliases?.alias ?? [];
    const log = (): string[] => readFileSync(logFile, "utf8").split("\n").filter(Boolean);

    before(async () => {
        lb = await shippedCommand();
    });
    beforeEach(() => {
        dir = mkdtempSync(path.join(tmpdir(), "pfsense-alias-"));
        configFile = path.join(dir, "config.json");
        logFile = path.join(dir, "log");
        copyFileSync(FIXTURE, configFile);
        writeFileSync(logFile, "");
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it("the document carries the alias: k8s_apiserver_vip (the seed's name, as pfSense allows it) -> 10.0.20.99, marked", () => {
        const state = readPhpState(String(lb.inputs.stdin)) as { alias: Json };
        assert.deepEqual(state.alias, {
            name: "k8s_apiserver_vip",
            type: "host",
            address: "10.0.20.99",
            descr: "Kubernetes apiserver VIP [managed by ha-control-plane/lab]",
            detail: "apiserver VIP (10.0.20.99:6443)",
        });
    });

    it("apply adds the alias with the load balancer and asks for a filter reload; a second apply changes nothing", async () => {
        const res = await shipped(lb, "create");
        assert.equal(res.code, 0, res.stdout + res.stderr);
        assert.match(res.stdout, /\+ alias k8s_apiserver_vip -> 10\.0\.20\.99/);
        assert.deepEqual(aliases(), [
            { name: "k8s_apiserver_vip", type: "host", address: "10.0.20.99", descr: "Kubernetes apiserver VIP [managed by ha-control-plane/lab]", detail: "apiserver VIP (10.0.20.99:6443)" },
        ]);
        assert.deepEqual(log(), [
            "haproxy_check: ok",
            "write_config: ha-control-plane/lab: apiserver load balancer (5 changes)",
            "filter_configure",
            "interface_ipalias_configure: 10.0.20.99/24 on opt2",
            "haproxy_reload",
        ]);
        writeFileSync(logFile, "");
        const again = await shipped(lb, "create");
        assert.equal(again.code, 0, again.stderr);
        assert.match(again.stdout, /no change: pfSense already matches/);
        assert.deepEqual(log(), []);
    });

    it("an alias edited by hand is put back without touching HAProxy (no haproxy -c, no reload)", async () => {
        assert.equal((await shipped(lb, "create")).code, 0);
        edit((cfg) => (cfg.aliases.alias[0].address = "10.0.20.98"));
        writeFileSync(logFile, "");
        const res = await shipped(lb, "create");
        assert.equal(res.code, 0, res.stderr);
        assert.match(res.stdout, /~ alias k8s_apiserver_vip: address/);
        assert.equal(aliases()[0].address, "10.0.20.99");
        assert.deepEqual(log(), ["write_config: ha-control-plane/lab: apiserver load balancer (1 change)", "filter_configure"]);
    });

    it("a renamed alias (loadBalancer.hostAlias changed): the new one is added, the old one of this stack removed", async () => {
        assert.equal((await shipped(lb, "create")).code, 0);
        const renamed = await shippedCommand((raw) => ((raw.loadBalancer as Json).hostAlias = "apiserver_vip"));
        const res = await shipped(renamed, "create");
        assert.equal(res.code, 0, res.stderr);
        assert.match(res.stdout, /\+ alias apiserver_vip -> 10\.0\.20\.99\n- alias k8s_apiserver_vip/);
        assert.deepEqual(aliases().map((a) => a.name), ["apiserver_vip"]);
    });

    it("delete removes the alias with the rest, and leaves others' aliases alone", async () => {
        edit((cfg) => (cfg.aliases = { alias: [{ name: "mail_hosts", type: "host", address: "10.0.20.25", descr: "mail" }] }));
        assert.equal((await shipped(lb, "create")).code, 0);
        writeFileSync(logFile, "");
        const res = await shipped(lb, "delete");
        assert.equal(res.code, 0, res.stderr);
        assert.match(res.stdout, /- alias k8s_apiserver_vip/);
        assert.deepEqual(aliases().map((a) => a.name), ["mail_hosts"]);
        assert.deepEqual(log(), [
            "haproxy_check: ok",
            "write_config: ha-control-plane/lab: remove apiserver load balancer (4 changes)",
            "filter_configure",
            "haproxy_reload",
            "interface_vip_bring_down: 10.0.20.99",
        ]);
        assert.match((await shipped(lb, "delete")).stdout, /no change: nothing of this stack is configured/);
    });

    it("refuses an alias of that name it does not own, and writes nothing (exit 3)", async () => {
        edit((cfg) => (cfg.aliases = { alias: [{ name: "k8s_apiserver_vip", type: "host", address: "10.0.20.99", descr: "made by hand" }] }));
        const saved = readFileSync(configFile, "utf8");
        const res = await byFile(lb, "apply");
        assert.equal(res.code, 3);
        assert.match(res.stderr, /haproxy-reconcile: the alias 'k8s_apiserver_vip' exists but is not managed by this stack \(no '\[managed by ha-control-plane\/lab\]'\)\. Delete or rename it in Firewall > Aliases/);
        assert.equal(readFileSync(configFile, "utf8"), saved);
        assert.deepEqual(log(), []);
        assert.equal((await byFile(lb, "delete")).code, 0, "delete leaves someone else's alias alone");
        assert.deepEqual(aliases().map((a) => a.descr), ["made by hand"]);
    });

    it("refuses to delete while a firewall rule names the alias, and changes nothing (exit 3)", async () => {
        assert.equal((await shipped(lb, "create")).code, 0);
        edit((cfg) => (cfg.filter = { rule: [{ descr: "apiserver from VLAN 20", destination: { address: "k8s_apiserver_vip", port: "6443" } }] }));
        const saved = readFileSync(configFile, "utf8");
        writeFileSync(logFile, "");
        const res = await byFile(lb, "delete");
        assert.equal(res.code, 3);
        assert.match(res.stderr, /the alias 'k8s_apiserver_vip' is used by the firewall rule 'apiserver from VLAN 20'; remove it there \(Firewall > Rules \/ NAT\) first/);
        assert.equal(readFileSync(configFile, "utf8"), saved, "the pool, frontend and VIP stay too");
        assert.deepEqual(log(), []);
    });

    it("config: a hyphenated alias name (the seed's spelling) is refused, naming the key and pfSense's rule", () => {
        const stack = labConfig("1", (raw) => ((raw.loadBalancer as Json).hostAlias = "k8s-apiserver-vip"));
        assert.throws(
            () => loadTopology(stack.raw, { project: stack.project, stack: stack.stack, readProjectFile }),
            (err: Error) => err instanceof ConfigError && /loadBalancer\.hostAlias = "k8s-apiserver-vip": must be a pfSense alias name: up to 31 letters, digits or _ \(no hyphens\)/.test(err.message),
        );
    });
});
