/**
 * Phase 0 and the per-master join pipeline under the SDK mocks (recordLab runs the real program on
 * the lab stack): what each step runs and where, the dependency facts the rollback relies on, and
 * that no secret appears in plain text in any recorded input or in the offline plan.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import {
    bootstrapToken,
    ConfigError,
    decideMemberRemoval,
    kubeadmConfigApiVersion,
    loadTopology,
    membersAfterJoin,
    newMasterPlacements,
    parseJoinMaterial,
    parseKubeadmDuration,
    retrofitPatch,
} from "@ha-control-plane/topology";
import * as command from "@pulumi/command";
import { COMPONENT_TYPES, KUBEADM_DEFAULTS } from "@ha-control-plane/topology";
import { ControlPlaneJoin, controlPlaneJoinArgs } from "../../components/kubeadm";
import { readStackConfig } from "../../components/stackConfig";
import { RecordedResource, SECRET } from "../../tools/recorder";
import { stubOutputs } from "../../tools/stubs";
import { labConfig, nameOf, recordLab, recordWithConfig } from "../helpers/program";
import { labTopology } from "../helpers/lab";
import { readProjectFile } from "../../components/projectFiles";
import { shippedText } from "../../components/scriptManifest";
import { secretEnvText } from "../../components/kubeadm/bundle";
import { joinMaterialCommand } from "../../components/kubeadm/controlPlaneJoin";
import { withSecretStdin } from "../../components/remoteStep";

const ROOT = path.resolve(__dirname, "../..");
type Inputs = Record<string, any>;

/** Every value the mock providers hand out as a secret for the lab's join material. */
function secretValues(): string[] {
    const values: string[] = [];
    for (const master of ["k8s-master-2", "k8s-master-3"]) {
        const pw = stubOutputs("random:index/randomPassword:RandomPassword", `${master}-token-secret`, { length: 16 }).extra.result as { value: string };
        const hex = stubOutputs("random:index/randomBytes:RandomBytes", `${master}-certificate-key`, { length: 32 }).extra.hex as { value: string };
        values.push(pw.value, hex.value);
    }
    return values;
}

describe("kubeadm under mocks: phase 0 and the joins of phases 2 and 3", () => {
    let resources: readonly RecordedResource[];
    // A RemoteStep carries its command's name: the name means the command.
    const byName = () => new Map(resources.filter((r) => r.type !== COMPONENT_TYPES.remoteStep).map((r) => [r.name, r]));
    const get = (name: string) => byName().get(name) ?? assert.fail(`no resource ${name}`);
    const deps = (name: string) => get(name).dependencies.map(nameOf);
    /** Whether `from` waits, directly or through others, for `to`: destroy then runs `from` first. */
    const waitsFor = (from: string, to: string): boolean => {
        const map = byName();
        const urnToName = new Map(resources.map((r) => [r.urn, r.name]));
        const seen = new Set<string>();
        const stack = [from];
        while (stack.length > 0) {
            const current = stack.pop()!;
            for (const dep of map.get(current)?.dependencies ?? []) {
                const n = urnToName.get(dep) ?? nameOf(dep);
                if (n === to) return true;
                if (!seen.has(n)) {
                    seen.add(n);
                    stack.push(n);
                }
            }
        }
        return false;
    };

    before(async () => {
        resources = (await recordLab("3")).resources;
    });

    it("phase 0: preflight, then the Proxmox snapshot of VMID 200, then the retrofit of the existing master", () => {
        const preflight = get("retrofit-preflight").inputs as Inputs;
        assert.equal(preflight.create, "sudo -n bash -s -- --vip 10.0.20.99 --apiserver-port 6443 --new-master-ip 10.0.20.110 --new-master-ip 10.0.20.111 --snapshot-dir /var/lib/ha-control-plane/etcd-snapshots --snapshot-max-age-hours 24 --take-snapshot --snapshot-timeout-minutes 10");
        const snapshot = get("retrofit-proxmox-snapshot").inputs as Inputs;
        assert.match(snapshot.create, /^bash -s -- create --vmid 200 --name pre-ha-retrofit --description 'before the HA retrofit of k8s-master/);
        assert.equal(snapshot.delete, "bash -s -- delete --vmid 200 --name pre-ha-retrofit --keep", "destroy keeps the snapshot");
        const apply = get("retrofit-apply").inputs as Inputs;
        assert.equal(
            apply.create,
            "sudo -n bash -s -- apply --node-name k8s-master --advertise-address 10.0.20.100 --backup-dir /var/lib/ha-control-plane/retrofit --readyz-timeout 300 " +
                "--endpoint 10.0.20.99:6443 --san 10.0.20.99 --san k8s-apiserver.viktorbarzin.lan --verify-namespace calico-system --verify-namespace gpu-operator --verify-namespace cnpg-system",
        );
        assert.equal(apply.delete, "sudo -n bash -s -- restore --node-name k8s-master --advertise-address 10.0.20.100 --backup-dir /var/lib/ha-control-plane/retrofit --readyz-timeout 300");
        assert.match(apply.stdin, /^#!\/usr\/bin\/env bash\n# Bundle of kubeadm\/lib\.sh, kubeadm\/retrofit\.sh/);
        assert.match(apply.stdin, /hacp_embedded_patch_cluster_config_py\(\) \{/);
        assert.ok(deps("retrofit-proxmox-snapshot").includes("retrofit-preflight"));
        assert.ok(deps("retrofit-apply").includes("retrofit-proxmox-snapshot"));
        for (const name of ["retrofit-preflight", "retrofit-proxmox-snapshot", "retrofit-apply"]) {
            // Under its RemoteStep (same name), under the Retrofit; the alias keeps its URN from before the step.
            const step = resources.find((x) => x.urn === get(name).parent)!;
            assert.equal(step.type, COMPONENT_TYPES.remoteStep);
            assert.equal(step.name, name);
            assert.equal(nameOf(step.parent!), "retrofit");
            assert.deepEqual(get(name).aliases, [get(name).urn.replace(`$${COMPONENT_TYPES.remoteStep}$`, "$")]);
        }
        assert.equal(nameOf(get("retrofit").parent!), "phase-0");
    });

    it("the Proxmox snapshot is deleted on destroy only when kubeadm.keepProxmoxSnapshot is false", async () => {
        const { resources: r } = await recordLab("0", (raw) => {
            raw.kubeadm = { ...(raw.kubeadm as object), keepProxmoxSnapshot: false };
        });
        assert.equal((r.find((x) => x.name === "retrofit-proxmox-snapshot" && x.custom)!.inputs as Inputs).delete, "bash -s -- delete --vmid 200 --name pre-ha-retrofit");
    });

    it("each join waits for the retrofit, every resource of the LB phase, its VM and the previous master's gate", () => {
        const phaseOf = (r: RecordedResource): string | undefined => {
            let parent = r.parent;
            while (parent) {
                const p = resources.find((x) => x.urn === parent);
                if (!p) return undefined;
                if (p.type === "ha-control-plane:index:Phase") return p.name;
                parent = p.parent;
            }
            return undefined;
        };
        const lbPhase = resources.filter((r) => r.custom && ["phase-1", "phase-1-5"].includes(phaseOf(r) ?? "")).map((r) => r.name);
        for (const [master, previousGate] of [["k8s-master-2", undefined], ["k8s-master-3", "k8s-master-2-gate"]] as const) {
            const join = deps(`${master}-join`);
            for (const step of ["retrofit-preflight", "retrofit-proxmox-snapshot", "retrofit-apply"]) assert.ok(join.includes(step), `${master}-join waits for ${step}`);
            // Through the phase chain: phase 2 waits for phase 1.5's resources, which wait for phase 1's.
            for (const lb of lbPhase) assert.ok(waitsFor(`${master}-join`, lb), `${master}-join waits for ${lb} (LB phase)`);
            assert.ok(join.includes(`${master}-vm`), `${master}-join waits for its VM`);
            if (previousGate) assert.ok(join.includes(previousGate), `${master}-join waits for ${previousGate}`);
        }
        assert.ok(!deps("k8s-master-2-join").some((d) => d.startsWith("k8s-master-3")), "master-2 never waits for master-3");
        assert.ok(deps("k8s-master-3-vm").includes("k8s-master-2-gate"), "master-3's VM starts after master-2's gate");
    });

    it("inside a join: ready, node-reset, etcd-membership, join-material, join, gate; so destroy runs the guarded removal, then the node reset, then the VM", () => {
        const m = "k8s-master-3";
        const chain = [`${m}-gate`, `${m}-join`, `${m}-join-material`, `${m}-etcd-membership`, `${m}-node-reset`, `${m}-ready`, `${m}-vm`];
        for (let i = 0; i + 1 < chain.length; i++) assert.ok(waitsFor(chain[i], chain[i + 1]), `${chain[i]} waits for ${chain[i + 1]}`);
        assert.ok(waitsFor(`${m}-join`, `${m}-ready`));
        for (const step of chain.slice(0, -1)) assert.ok(waitsFor(step, `${m}-vm`), `${step} is destroyed before the VM`);
        // Each step's command under its RemoteStep, the step under the join, the alias back to the join.
        for (const step of chain.slice(0, -1)) {
            const stepComponent = resources.find((r) => r.urn === get(step).parent)!;
            assert.equal(stepComponent.type, COMPONENT_TYPES.remoteStep);
            assert.equal(nameOf(stepComponent.parent!), m);
            assert.equal(stepComponent.parent!.split("::")[2].split("$").pop(), "ha-control-plane:kubeadm:ControlPlaneJoin");
            assert.deepEqual(get(step).aliases, [get(step).urn.replace(`$${COMPONENT_TYPES.remoteStep}$`, "$")], `${step} keeps its URN under the join`);
        }
    });

    it("the rollback is the etcd-membership step's delete, run on the existing master, protecting it", () => {
        const membership = get("k8s-master-3-etcd-membership").inputs as Inputs;
        assert.equal(membership.create, "sudo -n bash -s -- pre-join --node k8s-master-3 --peer-url https://10.0.20.111:2380");
        assert.equal(membership.delete, "sudo -n bash -s -- remove --node k8s-master-3 --peer-url https://10.0.20.111:2380 --protect k8s-master --drain-timeout 600 --timeout 600");
        const reset = get("k8s-master-3-node-reset").inputs as Inputs;
        assert.equal(reset.delete, "bash -s -- --vmid 206 --node-name k8s-master-3 --timeout 300");
        assert.match(reset.stdin, /hacp_embedded_reset_node_sh\(\) \{/);
        const gate = get("k8s-master-2-gate").inputs as Inputs;
        assert.equal(gate.create, "sudo -n bash -s -- --node k8s-master-2 --members k8s-master,k8s-master-2 --later k8s-master-3 --timeout 600");
        const join = get("k8s-master-2-join").inputs as Inputs;
        assert.equal(
            join.create,
            "sudo -n bash -s -- --endpoint 10.0.20.99:6443 --advertise-address 10.0.20.110 --node-name k8s-master-2 --taint node-role.kubernetes.io/control-plane:NoSchedule --timeout 900",
        );
        const ready = get("k8s-master-2-ready").inputs as Inputs;
        assert.equal(ready.create, "sudo -n bash -s -- --kubernetes-version 1.34.8 --min-containerd 2.2 --cloud-init-timeout 1800");
    });

    it("join material: random token parts and a 32-byte key; the commands carrying them log nothing and keep their outputs secret", () => {
        assert.deepEqual(get("k8s-master-2-token-id").inputs, { length: 6, upper: false, lower: true, numeric: true, special: false });
        assert.equal(get("k8s-master-2-token-secret").type, "random:index/randomPassword:RandomPassword");
        assert.equal(get("k8s-master-2-token-secret").inputs.length, 16);
        assert.deepEqual(get("k8s-master-2-certificate-key").inputs, { length: 32 });
        for (const name of ["k8s-master-2-join-material", "k8s-master-2-join", "k8s-master-3-join-material", "k8s-master-3-join"]) {
            const r = get(name);
            assert.equal(r.inputs.stdin, SECRET, `${name}: stdin (which carries the token and key) is secret`);
            assert.equal(r.inputs.logging, "none", `${name} logs nothing`);
            for (const output of ["stdout", "stderr"]) assert.ok(r.additionalSecretOutputs.includes(output), `${name}: ${output} is secret`);
            assert.doesNotMatch(String(r.inputs.create), /KUBEADM|token [a-z0-9]{6}\.|[0-9a-f]{64}/, `${name}: no secret on the command line`);
        }
        assert.ok(deps("k8s-master-2-join").includes("k8s-master-2-join-material"));
        assert.equal(get("k8s-master-2-join-material").deleteBeforeReplace, true, "a replace revokes the old token before minting it again");
    });

    it("the join material and the join ship their manifest script with the secrets exported after its #! line, the refresh naming the material's URN", async () => {
        const { resources: revealed } = await recordLab("2", undefined, { revealSecrets: true });
        const commandNamed = (name: string) => revealed.find((r) => r.name === name && r.custom)!;
        for (const [name, script] of [["k8s-master-2-join-material", "kubeadm/join-material.sh"], ["k8s-master-2-join", "kubeadm/join-control-plane.sh"]] as const) {
            const stdin = String(commandNamed(name).inputs.stdin);
            const shipped = shippedText(script);
            assert.ok(stdin.startsWith("#!/usr/bin/env bash\nexport KUBEADM_TOKEN='"), `${name}: the secrets first, after the #! line`);
            assert.ok(stdin.endsWith(shipped.slice(shipped.indexOf("\n") + 1)), `${name}: then the script as the manifest ships it`);
            assert.equal(stdin.match(/^#!/gm)?.length, 1, `${name}: one #! line`);
        }
        const refresh = `export JOIN_MATERIAL_REFRESH='pulumi up --replace '\\''${commandNamed("k8s-master-2-join-material").urn}'\\'''`;
        assert.ok(String(commandNamed("k8s-master-2-join").inputs.stdin).includes(refresh), "the refresh names the material command's URN");
    });

    it("the join material ships exactly what its script test runs: joinMaterialCommand with the secrets through withSecretStdin (tests/kubeadm/joinMaterial.test.ts)", async () => {
        const { resources: revealed } = await recordLab("2", undefined, { revealSecrets: true });
        const recorded = revealed.find((r) => r.name === "k8s-master-2-join-material" && r.custom)!;
        const tokenId = stubOutputs("random:index/randomString:RandomString", "k8s-master-2-token-id", { length: 6 }).extra.result as string;
        const [tokenSecret, key] = secretValues();
        const topology = labTopology();
        const expected = withSecretStdin(
            joinMaterialCommand({ sshUser: topology.ssh.user, ttl: topology.kubeadm.joinTokenTtl, node: "k8s-master-2" }),
            secretEnvText({ KUBEADM_TOKEN: `${tokenId}.${tokenSecret}`, KUBEADM_CERTIFICATE_KEY: key }),
        );
        assert.deepEqual({ create: recorded.inputs.create, delete: recorded.inputs.delete, stdin: recorded.inputs.stdin }, expected);
    });

    it("no secret in plain text anywhere in the recording", () => {
        const text = JSON.stringify(resources);
        for (const value of secretValues()) assert.ok(!text.includes(value), "a join secret leaked into a recorded input");
        assert.doesNotMatch(text, /[a-z0-9]{6}\.[a-z0-9]{16}/, "no bootstrap token");
        assert.doesNotMatch(text, /export KUBEADM_/, "no secret environment preamble");
        assert.ok(!text.includes("placeholder-for-"), "no config secret");
    });

    it("no secret in the offline plan (npx tsx tools/plan.ts --target-phase 3 --format json)", function () {
        this.timeout(60_000);
        const run = spawnSync(path.join(ROOT, "node_modules/.bin/tsx"), [path.join(ROOT, "tools/plan.ts"), "--target-phase", "3", "--format", "json"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
        assert.ok(run.status === 0 || run.status === 1, run.stderr);
        const doc = JSON.parse(run.stdout) as { phases: { id: string; resources: { name: string; type: string; inputs: Inputs }[] }[] };
        for (const value of secretValues()) assert.ok(!run.stdout.includes(value), "a join secret leaked into the plan");
        assert.doesNotMatch(run.stdout, /[a-z0-9]{6}\.[a-z0-9]{16}/);
        const material = doc.phases.find((p) => p.id === "2")!.resources.find((r) => r.name === "k8s-master-2-join-material" && r.type !== COMPONENT_TYPES.remoteStep)!;
        assert.equal(material.inputs.stdin, "[secret]");
        assert.equal(material.inputs.connection, "[secret]");
    });

    it("the join step waits for what other phases hand in through beforeJoin, and those wait for the ready node", async () => {
        const { resources: r } = await recordWithConfig(labConfig("2"), () => {
            const { topology, secrets } = readStackConfig();
            const [placement] = newMasterPlacements(topology);
            new ControlPlaneJoin(
                "k8s-master-2",
                controlPlaneJoinArgs(topology, placement, secrets.sshPrivateKey, (ready) => [
                    new command.remote.Command("extra-step", { connection: { host: "192.0.2.1" }, create: "true" }, { dependsOn: [ready] }),
                ]),
            );
            return {};
        });
        const find = (n: string) => r.find((x) => x.name === n)!;
        assert.ok(find("k8s-master-2-join").dependencies.map(nameOf).includes("extra-step"));
        assert.ok(find("extra-step").dependencies.map(nameOf).includes("k8s-master-2-ready"));
        assert.ok(!find("k8s-master-2-join-material").dependencies.map(nameOf).includes("extra-step"), "only the join waits");
    });

    it("at phase 0 and 1 no join is registered; at phase 2 only master-2's", async () => {
        const early = (await recordLab("1")).resources;
        assert.ok(early.some((r) => r.name === "retrofit-apply"));
        assert.ok(!early.some((r) => r.type === "ha-control-plane:kubeadm:ControlPlaneJoin"));
        const two = (await recordLab("2")).resources.filter((r) => r.type === "ha-control-plane:kubeadm:ControlPlaneJoin").map((r) => r.name);
        assert.deepEqual(two, ["k8s-master-2"]);
    });
});

describe("kubeadm config (key `kubeadm`) and the pure kubeadm rules (topology/kubeadm.ts)", () => {
    const reject = (edit: (raw: Record<string, any>) => void): ConfigError => {
        try {
            labTopology(edit);
        } catch (err) {
            assert.ok(err instanceof ConfigError);
            return err;
        }
        return assert.fail("accepted");
    };

    it("defaults every field when the key is absent (the defaults Pulumi.yaml documents, tools/pulumiYaml.ts)", () => {
        const t = labTopology((raw) => delete raw.kubeadm);
        assert.deepEqual({ ...t.kubeadm }, { ...KUBEADM_DEFAULTS, verifyNamespaces: [] });
    });

    const cases: [string, (raw: Record<string, any>) => void, string, RegExp][] = [
        ["a token TTL of 0", (r) => (r.kubeadm.joinTokenTtl = "0s"), "kubeadm.joinTokenTtl", /from 5m to 24h/],
        ["a token TTL of a week", (r) => (r.kubeadm.joinTokenTtl = "168h"), "kubeadm.joinTokenTtl", /from 5m to 24h/],
        ["a malformed TTL", (r) => (r.kubeadm.joinTokenTtl = "half an hour"), "kubeadm.joinTokenTtl", /kubeadm duration/],
        ["a backup dir under /tmp", (r) => (r.kubeadm.backupDir = "/tmp/retrofit"), "kubeadm.backupDir", /survive a reboot/],
        ["a relative snapshot dir", (r) => (r.kubeadm.etcdSnapshotDir = "snapshots"), "kubeadm.etcdSnapshotDir", /absolute path/],
        ["a Proxmox snapshot name starting with a digit", (r) => (r.kubeadm.proxmoxSnapshotName = "1st"), "kubeadm.proxmoxSnapshotName", /start with a letter/],
        ["a bad namespace", (r) => (r.kubeadm.verifyNamespaces = ["Calico_System"]), "kubeadm.verifyNamespaces[0]", /namespace name/],
        ["a zero readyz timeout", (r) => (r.kubeadm.readyzTimeoutSeconds = 0), "kubeadm.readyzTimeoutSeconds", /from 30 to 3600/],
        ["a snapshot bound of 0 minutes", (r) => (r.kubeadm.etcdSnapshotTimeoutMinutes = 0), "kubeadm.etcdSnapshotTimeoutMinutes", /from 1 to 240/],
        ["a snapshot bound of a day", (r) => (r.kubeadm.etcdSnapshotTimeoutMinutes = 1440), "kubeadm.etcdSnapshotTimeoutMinutes", /from 1 to 240/],
        ["a malformed containerd minimum", (r) => (r.kubeadm.minContainerdVersion = "two"), "kubeadm.minContainerdVersion", /MAJOR\.MINOR/],
        ["kubeadm too old for v1beta3", (r) => (r.kubernetesVersion = "1.21.14"), "kubernetesVersion", /v1beta3, kubeadm\.k8s\.io\/v1beta4/],
        ["kubeadm not an object", (r) => (r.kubeadm = "yes"), "kubeadm", /must be an object/],
    ];
    for (const [what, edit, key, rule] of cases) {
        it(`refuses ${what}, naming ${key}`, () => {
            const err = reject(edit);
            const issue = err.issues.find((i) => i.key === key);
            assert.ok(issue, `${key} in ${err.message}`);
            assert.match(issue.rule, rule);
        });
    }

    it("kubeadm's formats: tokens, durations, API versions, join material", () => {
        assert.equal(bootstrapToken("abc123", "0123456789abcdef"), "abc123.0123456789abcdef");
        assert.throws(() => bootstrapToken("ABC123", "0123456789abcdef"), (e: Error) => !e.message.includes("ABC123"));
        assert.deepEqual(["30m", "1h30m", "90s", "24h", "", "1d", "30"].map(parseKubeadmDuration), [1800, 5400, 90, 86400, undefined, undefined, undefined]);
        assert.deepEqual(["1.34.8", "1.31.0", "1.30.4", "1.22.0", "1.21.9", "2.0.0"].map(kubeadmConfigApiVersion), [
            "kubeadm.k8s.io/v1beta4", "kubeadm.k8s.io/v1beta4", "kubeadm.k8s.io/v1beta3", "kubeadm.k8s.io/v1beta3", undefined, undefined,
        ]);
        assert.throws(() => parseJoinMaterial('{"caCertHash":"sha256:xyz","tokenExpires":"2030-01-01T00:00:00Z","tokenId":"abc123"}'), /caCertHash/);
        assert.throws(() => parseJoinMaterial("not json"), /JSON/);
    });

    it("the retrofit patch and who the gate expects after each join", () => {
        const t = labTopology();
        assert.deepEqual(retrofitPatch(t.cluster), { controlPlaneEndpoint: "10.0.20.99:6443", apiServer: { certSANs: ["10.0.20.99", "k8s-apiserver.viktorbarzin.lan"] } });
        const [two, three] = newMasterPlacements(t);
        assert.deepEqual(membersAfterJoin(t, two), { members: ["k8s-master", "k8s-master-2"], later: ["k8s-master-3"] });
        assert.deepEqual(membersAfterJoin(t, three), { members: ["k8s-master", "k8s-master-2", "k8s-master-3"], later: [] });
    });

    it("decideMemberRemoval: learners do not vote, the original master is protected", () => {
        const members = [
            { name: "a", healthy: true },
            { name: "b", healthy: false, learner: true },
            { name: "c", healthy: true },
        ];
        assert.deepEqual(decideMemberRemoval(members, "b"), { allowed: true, remaining: 2, quorum: 2 }, "a learner goes without cost");
        assert.deepEqual(decideMemberRemoval(members, "c"), { allowed: true, remaining: 1, quorum: 1 }, "the unhealthy learner does not count against quorum");
        const refused = decideMemberRemoval(members, "a", { protectedMembers: ["a"] });
        assert.equal(!refused.allowed && refused.rule, "protected");
    });

    it("the lab config still loads in the shape the other tests expect", () => {
        assert.doesNotThrow(() => loadTopology(labConfig().raw, { project: "ha-control-plane", stack: "lab", readProjectFile }));
    });
});

describe("rolling a master back needs nothing that runs on it (pulumi destroy --target <vm> --target-dependents)", function () {
    this.timeout(60_000);
    /**
     * What that destroy deletes: the VM and everything that depends on it, transitively, by
     * dependency or parent (the engine's --target-dependents). A delete that has to reach the
     * master itself fails when its network is gone (pulumi-command retries the dial, then fails
     * the delete), and the rollback exists for exactly that case.
     */
    const destroyedWith = (resources: readonly RecordedResource[], target: RecordedResource): RecordedResource[] => {
        const set = new Set([target.urn]);
        for (let grew = true; grew; ) {
            grew = false;
            for (const r of resources) {
                if (set.has(r.urn)) continue;
                if ([...r.dependencies, ...(r.parent ? [r.parent] : [])].some((d) => set.has(d))) {
                    set.add(r.urn);
                    grew = true;
                }
            }
        }
        return resources.filter((r) => set.has(r.urn));
    };

    it("at phase 7, for every new master: no delete connects to it; the guarded removal and the agent reset run elsewhere", async () => {
        const lab = labTopology();
        const { resources } = await recordLab("7", undefined, { revealSecrets: true });
        for (const master of lab.newMasters) {
            const vm = resources.find((r) => r.type === "proxmoxve:index/vmLegacy:VmLegacy" && r.inputs.name === master.name)!;
            const destroyed = destroyedWith(resources, vm);
            const deletes = destroyed.filter((r) => r.type === "command:remote:Command" && r.inputs.delete);
            const host = (r: RecordedResource) => String((r.inputs.connection as Record<string, unknown>).host);
            assert.deepEqual(deletes.filter((r) => host(r) === master.ip).map((r) => r.name), [], `deletes that would have to reach ${master.name}`);
            // Nor a CopyToRemote with a delete (it has none: the copy stays with the VM's disk).
            for (const r of destroyed.filter((x) => x.type === "command:remote:CopyToRemote")) assert.equal(r.inputs.delete, undefined, r.name);
            const by = (name: string) => deletes.find((r) => r.name === name)!;
            assert.equal(host(by(`${master.name}-etcd-membership`)), lab.existingMaster.ip, "the guarded removal runs on the existing master");
            assert.equal(host(by(`${master.name}-node-reset`)), lab.proxmox.nodes.find((n) => n.name === master.node)!.address, "the reset goes through the Proxmox node's guest agent");
            assert.ok(destroyed.some((r) => r.name === `${master.name}-audit-policy-install`), "the audit policy copy goes with it, without a delete");
        }
    });

    it("the existing master's audit policy is still removed when phase 1.5 is destroyed", async () => {
        const { resources } = await recordLab("1.5");
        const install = resources.find((r) => r.name === "k8s-master-audit-policy-install" && r.custom)!;
        assert.match(String(install.inputs.delete), /-- remove --staged /);
        // Under its RemoteStep, with the alias to the URN it had directly under AuditPolicyFile.
        assert.equal(resources.find((r) => r.urn === install.parent)!.type, COMPONENT_TYPES.remoteStep);
        assert.deepEqual(install.aliases, [install.urn.replace(`$${COMPONENT_TYPES.remoteStep}$`, "$")]);
        assert.ok(install.aliases[0].endsWith("ha-control-plane:clusterOps:AuditPolicyFile$command:remote:Command::k8s-master-audit-policy-install"));
    });
});
