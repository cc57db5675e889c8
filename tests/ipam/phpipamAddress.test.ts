/**
 * Phase 1.1's IPAM registration: scripts/ipam/phpipam-address.sh run exactly as the program
 * registers it (the recorded command line, in the project directory, the token on stdin) against
 * a stand-in for phpIPAM's REST API on loopback (tests/fixtures/ipam/phpipamStandIn.ts):
 * phpIPAM itself (PHP, web server, MySQL) cannot run here.
 */
import { strict as assert } from "assert";
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { policies } from "../../policies/pack";
import { secretsStaySecret } from "../../policies/secrets";
import { ConfigError, loadTopology } from "@ha-control-plane/topology";
import { runPolicies } from "../../tools/policyRunner";
import { PROJECT_DIR } from "../../tools/planModel";
import { RecordedResource, SECRET } from "../../tools/recorder";
import { PhpipamStandIn } from "../fixtures/ipam/phpipamStandIn";
import { labConfig, recordLab } from "../helpers/program";
import { labPolicyConfig } from "../helpers/policy";
import { run, ScriptResult } from "../loadBalancer/scriptRunner";
import { readProjectFile } from "../../components/projectFiles";

const APP = "hacp";
const CODE = "app-code-0123456789abcdef";
const MARKER = "[managed by ha-control-plane/lab]";

type Json = Record<string, unknown>;

describe("phpIPAM registration of the VIP and the new masters (scripts/ipam/phpipam-address.sh against a stand-in for phpIPAM's REST API on loopback)", function () {
    this.timeout(60_000);
    let dir: string;
    let ipam: PhpipamStandIn;
    let url: string;
    let caFile: string;
    let commands: RecordedResource[];
    let started = false;

    const ipamConfig = (over: Json = {}) => ({ kind: "phpipam", url, appId: APP, token: CODE, section: "K8s cluster", caFile, timeoutSeconds: 5, ...over });
    const record = async (over: Json = {}): Promise<RecordedResource[]> =>
        (await recordLab("1", (raw) => (raw.ipam = ipamConfig(over)))).resources.filter((r) => r.name.startsWith("ipam-") && r.type === "command:local:Command");
    /** A command's create or delete, as pulumi up runs a local command: in the project directory, stdin = the token. */
    const shipped = (command: RecordedResource, action: "create" | "delete", token = CODE): Promise<ScriptResult> =>
        run("bash", ["-c", `cd ${PROJECT_DIR} && ${String(command.inputs[action])}`], { stdin: token, timeoutMs: 30_000 });
    const all = async (action: "create" | "delete"): Promise<ScriptResult[]> => {
        const out: ScriptResult[] = [];
        for (const c of commands) out.push(await shipped(c, action));
        return out;
    };
    const writes = () => ipam.requests.filter((r) => r.method !== "GET");

    before(async () => {
        dir = mkdtempSync(path.join(tmpdir(), "phpipam-"));
        ipam = new PhpipamStandIn(APP, CODE);
        ({ url, caFile } = await ipam.start(dir));
        started = true;
        commands = await record();
    });
    after(async () => {
        if (started) await ipam.stop();
        if (dir) rmSync(dir, { recursive: true, force: true });
    });
    beforeEach(() => {
        ipam.sections.splice(0, Infinity, { id: "3", name: "K8s cluster" }, { id: "4", name: "Other" });
        ipam.subnets.splice(0, Infinity, { id: "7", sectionId: "3", subnet: "10.0.0.0", mask: "16" }, { id: "8", sectionId: "3", subnet: "10.0.20.0", mask: "24" }, { id: "9", sectionId: "4", subnet: "10.0.20.0", mask: "24" });
        ipam.addresses.splice(0);
        ipam.requests.splice(0);
        ipam.failWith = undefined;
    });

    it("phase 1 registers one local command per address: the VIP and each new master, token on stdin only, logging nothing", async () => {
        assert.deepEqual(commands.map((c) => c.name), ["ipam-vip", "ipam-k8s-master-2", "ipam-k8s-master-3"]);
        for (const c of commands) {
            assert.equal(c.type, "command:local:Command");
            assert.equal(c.inputs.stdin, SECRET);
            assert.equal(c.inputs.logging, "none");
            assert.deepEqual(c.additionalSecretOutputs, ["stdout", "stderr"]);
            assert.ok(c.deleteBeforeReplace);
            assert.ok(!JSON.stringify(c.inputs).includes(CODE), "the token is in no input");
        }
        assert.ok(String(commands[0].inputs.create).startsWith("bash scripts/ipam/phpipam-address.sh add "), "the script by its path in the project, where the engine runs the command");
        assert.match(String(commands[0].inputs.create), /phpipam-address\.sh add --url https:\/\/127\.0\.0\.1:\d+ --app-id hacp --section 'K8s cluster' --ip 10\.0\.20\.99 --hostname k8s-apiserver\.viktorbarzin\.lan --description 'Kubernetes apiserver VIP \[managed by ha-control-plane\/lab\]'/);
        assert.match(String(commands[1].inputs.delete), /phpipam-address\.sh delete .*--ip 10\.0\.20\.110 --hostname k8s-master-2\.viktorbarzin\.lan/);
        assert.deepEqual((await recordLab("1")).resources.filter((r) => r.name.startsWith("ipam")), [], "no ipam config, no registration");
        const { resources } = await recordLab("1", (raw) => (raw.ipam = ipamConfig()));
        assert.deepEqual(await runPolicies([secretsStaySecret], resources, labPolicyConfig()), []);
        assert.deepEqual((await runPolicies(policies, resources, labPolicyConfig())).filter((v) => v.enforcementLevel === "mandatory"), []);
    });

    it("add registers the three addresses in the section's most specific subnet, with the token header; a re-run changes nothing", async () => {
        for (const res of await all("create")) assert.equal(res.code, 0, res.stderr);
        assert.deepEqual(
            ipam.addresses.map((a) => [a.subnetId, a.ip, a.hostname, a.description]),
            [
                ["8", "10.0.20.99", "k8s-apiserver.viktorbarzin.lan", `Kubernetes apiserver VIP ${MARKER}`],
                ["8", "10.0.20.110", "k8s-master-2.viktorbarzin.lan", `Kubernetes control-plane node k8s-master-2 ${MARKER}`],
                ["8", "10.0.20.111", "k8s-master-3.viktorbarzin.lan", `Kubernetes control-plane node k8s-master-3 ${MARKER}`],
            ],
        );
        assert.ok(ipam.requests.every((r) => r.token === CODE));
        assert.deepEqual(ipam.requests.slice(0, 4).map((r) => `${r.method} ${r.path}`), [
            "GET /api/hacp/sections/K8s%20cluster/",
            "GET /api/hacp/sections/3/subnets/",
            "GET /api/hacp/addresses/10.0.20.99/8/",
            "POST /api/hacp/addresses/",
        ]);
        ipam.requests.splice(0);
        const again = await all("create");
        for (const res of again) assert.match(res.stdout, /^no change: .* is registered in 10\.0\.20\.0\/24\n$/);
        assert.deepEqual(writes(), []);
    });

    it("corrects a record of ours that drifted (PATCH hostname only), never the address or subnet", async () => {
        ipam.addAddress({ subnetId: "8", ip: "10.0.20.99", hostname: "old-name.lan", description: `Kubernetes apiserver VIP ${MARKER}` });
        const res = await shipped(commands[0], "create");
        assert.equal(res.code, 0, res.stderr);
        assert.equal(res.stdout, "~ 10.0.20.99 k8s-apiserver.viktorbarzin.lan in 10.0.20.0/24: hostname\n");
        assert.deepEqual(writes().map((r) => [r.method, r.body]), [["PATCH", { hostname: "k8s-apiserver.viktorbarzin.lan", description: `Kubernetes apiserver VIP ${MARKER}` }]]);
    });

    it("delete removes exactly this stack's records; someone else's is left alone; a re-run changes nothing", async () => {
        for (const res of await all("create")) assert.equal(res.code, 0, res.stderr);
        const foreign = ipam.addAddress({ subnetId: "9", ip: "10.0.20.99", hostname: "elsewhere", description: "other section" });
        ipam.addresses.find((a) => a.ip === "10.0.20.111")!.description = "taken over by hand";
        const out = await all("delete");
        assert.deepEqual(out.map((r) => r.code), [0, 0, 0]);
        assert.equal(out[0].stdout, "- 10.0.20.99 k8s-apiserver.viktorbarzin.lan from 10.0.20.0/24\n");
        assert.match(out[2].stdout, /^left alone: 10\.0\.20\.111 in 10\.0\.20\.0\/24 is registered, but not by this stack/);
        assert.deepEqual(ipam.addresses.map((a) => a.ip).sort(), ["10.0.20.111", "10.0.20.99"]);
        assert.ok(ipam.addresses.includes(foreign), "the other section's record stays");
        assert.match((await shipped(commands[1], "delete")).stdout, /^no change: 10\.0\.20\.110 is not registered in 10\.0\.20\.0\/24/);
    });

    it("refuses an address registered by someone else (exit 3), changing nothing", async () => {
        ipam.addAddress({ subnetId: "8", ip: "10.0.20.99", hostname: "k8s-apiserver", description: "reserved by hand (seed 1.1)" });
        const res = await shipped(commands[0], "create");
        assert.equal(res.code, 3);
        assert.match(res.stderr, /^phpipam-address: 10\.0\.20\.99 is already registered in phpIPAM \(10\.0\.20\.0\/24, hostname 'k8s-apiserver', description 'reserved by hand \(seed 1\.1\)'\), but not by this stack\. Free the address, or put '\[managed by ha-control-plane\/lab\]' in that record's description to hand it over/);
        assert.deepEqual(writes(), []);
    });

    it("a missing section or no subnet holding the address: exit 2, naming what to create", async () => {
        ipam.sections.splice(0);
        let res = await shipped(commands[0], "create");
        assert.equal(res.code, 2);
        assert.match(res.stderr, /phpIPAM has no section 'K8s cluster' \(Administration > Sections\): create it, or set ipam\.section/);
        ipam.sections.push({ id: "3", name: "K8s cluster" });
        ipam.subnets.splice(0, Infinity, { id: "9", sectionId: "4", subnet: "10.0.20.0", mask: "24" });
        res = await shipped(commands[0], "create");
        assert.equal(res.code, 2);
        assert.match(res.stderr, /no subnet of phpIPAM section 'K8s cluster' holds 10\.0\.20\.99: add the cluster subnet to that section first/);
        assert.deepEqual(writes(), []);
    });

    it("a wrong token (exit 1, naming ipam.token) and a failing phpIPAM (exit 1, with its message)", async () => {
        let res = await shipped(commands[0], "create", "not-the-app-code");
        assert.equal(res.code, 1);
        assert.match(res.stderr, /phpIPAM refused the token \(401: Unauthorized\): ipam\.token must be the app code of app 'hacp', whose security is 'SSL with App code token'/);
        assert.ok(!res.stderr.includes("not-the-app-code") && !res.stdout.includes("not-the-app-code"), "the token is never printed");
        ipam.failWith = 500;
        res = await shipped(commands[0], "create");
        assert.equal(res.code, 1);
        assert.match(res.stderr, /phpIPAM answered 500 to the section lookup: stand-in told to fail/);
    });

    it("TLS is verified: without the CA phpIPAM's certificate is refused (exit 1); insecure: true skips the check", async () => {
        const [unverified] = await record({ caFile: undefined });
        let res = await shipped(unverified, "create");
        assert.equal(res.code, 1);
        assert.match(res.stderr, /phpIPAM at https:\/\/127\.0\.0\.1:\d+ did not answer GET \/api\/hacp\/sections\/K8s%20cluster\/: curl: \(60\)/);
        const [insecure] = await record({ caFile: undefined, insecure: true });
        res = await shipped(insecure, "create");
        assert.equal(res.code, 0, res.stderr);
    });

    it("a phpIPAM that does not answer: exit 1 within the timeout", async () => {
        const [gone] = await record({ url: "https://127.0.0.1:1/" });
        const res = await shipped(gone, "create");
        assert.equal(res.code, 1);
        assert.match(res.stderr, /phpIPAM at https:\/\/127\.0\.0\.1:1 did not answer GET/);
    });

    it("no token on stdin, or an unknown argument: exit 2 before any request", async () => {
        assert.match((await shipped(commands[0], "create", "")).stderr, /the app code token must come on stdin/);
        const res = await run("bash", [path.join(PROJECT_DIR, "scripts/ipam/phpipam-address.sh"), "add", "--bogus"], { stdin: CODE });
        assert.equal(res.code, 2);
        assert.match(res.stderr, /unknown argument '--bogus'/);
        assert.deepEqual(ipam.requests, []);
    });

    it("config: validated with the key, the value and the rule", () => {
        const bad = (over: Json, pattern: RegExp) => {
            const stack = labConfig("1", (raw) => (raw.ipam = { ...ipamConfig(), ...over }));
            assert.throws(() => loadTopology(stack.raw, { project: stack.project, stack: stack.stack, readProjectFile }), (err: Error) => err instanceof ConfigError && pattern.test(err.message), JSON.stringify(over));
        };
        bad({ url: "http://ipam.lab/" }, /ipam\.url = "http:\/\/ipam\.lab\/": must be an https:\/\/ URL of phpIPAM/);
        bad({ kind: "netbox" }, /ipam\.kind = "netbox": must be one of phpipam/);
        bad({ appId: "a" }, /ipam\.appId = "a": must be the API app id/);
        bad({ token: undefined }, /ipam\.token = \(missing\): must be set, as a secret: pulumi config set --secret --path ipam\.token/);
        bad({ section: "" }, /ipam\.section = "": must be a non-empty string/);
        bad({ insecure: true }, /ipam\.caFile = .*: must not be set together with ipam\.insecure: true/);
    });
});
