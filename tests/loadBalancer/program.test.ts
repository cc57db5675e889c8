/** The load balancer and DNS resources as the program registers them, under the SDK's mocks. */
import { strict as assert } from "assert";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import { COMPONENT_TYPES, readPhpState } from "@ha-control-plane/topology";
import { RecordedResource, SECRET } from "../../tools/recorder";
import { nameOf, recordLab } from "../helpers/program";
import { run } from "./scriptRunner";

const PROJECT_DIR = path.resolve(__dirname, "../..");
const TSIG = "dHNpZy1zZWNyZXQtdGhhdC1tdXN0LW5ldmVyLWxlYWs=";
const SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdGhhdC1tdXN0LW5ldmVyLWxlYWs\n-----END OPENSSH PRIVATE KEY-----";

type Raw = Record<string, Record<string, unknown>>;
const withSecrets = (raw: Record<string, unknown>) => {
    const r = raw as Raw;
    r.dns.tsigSecret = TSIG;
    r.ssh.privateKey = SSH_KEY;
};

describe("load balancer and DNS under mocks (lab stack)", function () {
    this.timeout(30_000);
    let resources: readonly RecordedResource[];
    // A command shares its name with its RemoteStep or LocalStep: by name is the command (or a component).
    const named = (within: readonly RecordedResource[], name: string) => within.find((x) => x.name === name && x.type !== COMPONENT_TYPES.remoteStep && x.type !== COMPONENT_TYPES.localStep);
    const byName = (name: string) => {
        const r = named(resources, name);
        assert.ok(r, `no resource ${name}`);
        return r;
    };
    const deps = (name: string) => byName(name).dependencies.map(nameOf);

    before(async () => {
        resources = (await recordLab("3", withSecrets)).resources;
    });

    it("registers nothing of the load balancer before phase 1", async () => {
        const { resources: at0 } = await recordLab("0");
        assert.ok(!at0.some((r) => r.type.startsWith("ha-control-plane:loadbalancer:")));
    });

    it("phase 1: the pfSense apply with the existing master, then the DNS record, then the stale record's removal", () => {
        const lb = byName("apiserver-lb-pfsense");
        assert.equal(lb.inputs.create, "php -- apply");
        assert.equal(lb.inputs.update, "php -- apply");
        assert.equal(lb.inputs.delete, "php -- delete");
        assert.ok(lb.deleteBeforeReplace, "a replacement never runs the old delete after the new apply");
        const state = readPhpState(String(lb.inputs.stdin)) as { servers: { name: string }[]; memberServers: string[]; vip: { subnet: string } };
        assert.deepEqual(state.servers.map((s) => s.name), ["k8s-master"]);
        assert.deepEqual(state.memberServers, ["k8s-master-2", "k8s-master-3"]);
        assert.equal(state.vip.subnet, "10.0.20.99");
        assert.equal(byName("apiserver-lb").parent, resources.find((r) => r.name === "phase-1")!.urn);
        assert.ok(deps("apiserver-dns-a").includes("apiserver-lb-pfsense"), "the name points at the VIP only once it answers");
        assert.ok(deps("apiserver-dns-stale-kubernetes-10.0.20.100").includes("apiserver-dns-a"));
        assert.ok(String(byName("apiserver-dns-a").inputs.create).startsWith("bash scripts/dns/vip-record.sh add "), "the script by its path in the project, where the engine runs the command");
        assert.match(String(byName("apiserver-dns-a").inputs.create), /vip-record\.sh add .*--name k8s-apiserver\.viktorbarzin\.lan --ip 10\.0\.20\.99/);
    });

    it("each LB command is under its RemoteStep (same name), under its component, with an alias to its URN from before the step", () => {
        for (const [name, component] of [["apiserver-lb-pfsense", "apiserver-lb"], ["k8s-master-2-lb-pfsense", "k8s-master-2-lb"], ["k8s-master-3-lb-pfsense", "k8s-master-3-lb"]]) {
            const cmd = byName(name);
            assert.equal(cmd.type, "command:remote:Command");
            const step = resources.find((x) => x.urn === cmd.parent)!;
            assert.equal(step.type, COMPONENT_TYPES.remoteStep);
            assert.equal(step.name, name);
            assert.equal(nameOf(step.parent!), component);
            const before = cmd.urn.replace(`$${COMPONENT_TYPES.remoteStep}$`, "$");
            assert.deepEqual(cmd.aliases, [before]);
            assert.equal(before, `${byName(component).urn.replace(/::[^:]+$/, "")}$command:remote:Command::${name}`);
        }
    });

    it("each DNS command is under its LocalStep (same name), under ApiserverDnsRecord, with an alias to its URN from before the step", () => {
        for (const name of ["apiserver-dns-a", "apiserver-dns-stale-kubernetes-10.0.20.100"]) {
            const cmd = byName(name);
            assert.equal(cmd.type, "command:local:Command");
            const step = resources.find((x) => x.urn === cmd.parent)!;
            assert.equal(step.type, COMPONENT_TYPES.localStep);
            assert.equal(step.name, name);
            assert.equal(nameOf(step.parent!), "apiserver-dns");
            assert.deepEqual(cmd.aliases, [`${byName("apiserver-dns").urn.replace(/::[^:]+$/, "")}$command:local:Command::${name}`]);
        }
    });

    it("the load balancer's check is on record for the policies (HTTPS GET /readyz, no TLS verification)", () => {
        const check = byName("apiserver-lb").inputs.healthCheck as Record<string, unknown>;
        assert.deepEqual(
            { protocol: check.protocol, method: check.method, path: check.path, expectStatus: check.expectStatus, verifyTls: check.verifyTls },
            { protocol: "https", method: "GET", path: "/readyz", expectStatus: 200, verifyTls: false },
        );
    });

    it("each new master's pool entry depends on its join gate, so a rollback takes it out of the pool first", () => {
        for (const master of ["k8s-master-2", "k8s-master-3"]) {
            const entry = `${master}-lb-pfsense`;
            assert.ok(deps(entry).includes(`${master}-gate`), `${entry} waits for ${master}-gate: ${deps(entry).join(", ")}`);
            assert.equal(byName(entry).inputs.create, "php -- add-server");
            assert.equal(byName(entry).inputs.delete, "php -- remove-server");
            const state = readPhpState(String(byName(entry).inputs.stdin)) as { server: { name: string; address: string; checkssl: string } };
            assert.equal(state.server.name, master);
            // Nothing of the join's chain waits for the pool entry: destroy removes it before the gate.
            for (const r of resources) assert.ok(!r.dependencies.map(nameOf).includes(entry) || r.name.startsWith("phase-") || !r.name.startsWith(master), `${r.name} depends on ${entry}`);
        }
        assert.ok(!deps("k8s-master-2-lb-pfsense").includes("k8s-master-3-gate"));
    });

    it("plain HAProxy: the fragment and the server lines go to the install script, as root", async () => {
        const { resources: hap } = await recordLab("2", (raw) => {
            const lb = (raw as Raw).loadBalancer;
            Object.assign(lb, { kind: "haproxy", host: "10.0.20.2", user: "ops" });
        });
        const apply = named(hap, "apiserver-lb-haproxy")!;
        assert.match(String(apply.inputs.create), /^sudo -n bash -s -- apply --config \/etc\/haproxy\/haproxy\.cfg --owner ha-control-plane\/lab --backend apiserver_nodes --keep k8s-master-2,k8s-master-3 --wait-up 60$/);
        assert.match(String(apply.inputs.delete), /^sudo -n bash -s -- delete /);
        assert.match(String(apply.inputs.stdin), /^HA_PAYLOAD=\$\(cat <<'HA_CONTROL_PLANE_PAYLOAD'\n# ha-control-plane\/lab: /);
        assert.match(String(apply.inputs.stdin), /\n    option httpchk GET \/readyz\n/);
        const entry = named(hap, "k8s-master-2-lb-haproxy")!;
        assert.match(String(entry.inputs.create), /add-server .*--name k8s-master-2/);
        assert.match(String(entry.inputs.delete), /remove-server .*--name k8s-master-2/);
        assert.match(String(entry.inputs.stdin), /\n    server k8s-master-2 10\.0\.20\.110:6443 check check-ssl verify none /);
        assert.ok(entry.dependencies.map(nameOf).includes("k8s-master-2-gate"));
    });

    it("keeps the TSIG and SSH secrets out of every recorded input", () => {
        const text = JSON.stringify(resources);
        assert.ok(!text.includes(TSIG) && !text.includes("dHNpZy1zZWNyZXQ"), "TSIG secret in the recording");
        assert.ok(!text.includes("b3BlbnNzaC1rZXktdGhhdC1tdXN0"), "SSH key in the recording");
        for (const name of ["apiserver-dns-a", "apiserver-dns-stale-kubernetes-10.0.20.100"]) assert.equal(byName(name).inputs.stdin, SECRET);
        for (const name of ["apiserver-lb-pfsense", "k8s-master-2-lb-pfsense"]) assert.equal(byName(name).inputs.connection as unknown, SECRET);
    });

    it("keeps them out of `tools/plan.ts --target-phase 3 --format json` too", async () => {
        const dir = mkdtempSync(path.join(tmpdir(), "plan-secrets-"));
        try {
            const stack = parse(readFileSync(path.join(PROJECT_DIR, "Pulumi.lab.yaml"), "utf8")) as { config: Raw };
            stack.config["ha-control-plane:dns"].tsigSecret = TSIG;
            stack.config["ha-control-plane:ssh"].privateKey = SSH_KEY;
            const file = path.join(dir, "Pulumi.secrets.yaml");
            writeFileSync(file, stringify(stack));
            // Into a file: through a pipe, tools/plan.ts's output is cut at 64 KiB (it exits
            // right after writing), which would hide most of the plan from this check.
            const out = path.join(dir, "plan.json");
            const res = await run(
                "sh",
                ["-c", 'exec npx tsx "$1" --config-file "$2" --target-phase 3 --format json > "$3"', "sh", path.join(PROJECT_DIR, "tools/plan.ts"), file, out],
                { timeoutMs: 60_000 },
            );
            assert.ok(res.code === 0 || res.code === 1, `plan exit ${res.code}: ${res.stderr}`);
            const text = readFileSync(out, "utf8");
            assert.ok(!text.includes(TSIG) && !text.includes("dHNpZy1zZWNyZXQ"), "TSIG secret in the plan");
            assert.ok(!text.includes("b3BlbnNzaC1rZXktdGhhdC1tdXN0"), "SSH key in the plan");
            const plan = JSON.parse(text) as { phases: { resources: { name: string; type: string; inputs: Record<string, unknown> }[] }[] };
            const dns = plan.phases.flatMap((p) => p.resources).find((r) => r.name === "apiserver-dns-a" && r.type === "command:local:Command")!;
            assert.equal(dns.inputs.stdin, "[secret]");
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
