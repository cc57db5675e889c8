/**
 * The pack as a whole: every policy described and configurable, policies/lab.json in step with
 * the pack and with the lab topology, the config reconciled as the CLI does it, and the
 * held-together check: at every phase the lab plan passes every policy but the RAM verdict that
 * reproduces the seed's deferral.
 */
import { strict as assert } from "assert";
import { readdirSync, readFileSync, statSync } from "fs";
import * as path from "path";
import { parse } from "yaml";
import { policies } from "../../policies/pack";
import { policyConfigDrift, policyConfigFromTopology } from "../../policies/topologyConfig";
import { loadTopology, phaseIndex, PHASE_IDS } from "@ha-control-plane/topology";
import { computePlan } from "../../tools/planModel";
import { PolicyConfigError, resolvePolicyConfig, runPolicies } from "../../tools/policyRunner";
import { cachedLab, labConfig } from "../helpers/program";
import { labPolicyConfig } from "../helpers/policy";
import { readProjectFile } from "../../components/projectFiles";
import { importSpecifiers, isNodeBuiltin } from "../architecture/importGraph";

const POLICIES_DIR = path.resolve(__dirname, "../../policies");

/** The pack's own files, as the CLI loads the folder: everything but the lab's config, its build output and node_modules. */
function packFiles(): string[] {
    return readdirSync(POLICIES_DIR)
        .filter((name) => name !== "lab.json" && name !== "bin" && name !== "node_modules" && statSync(path.join(POLICIES_DIR, name)).isFile())
        .sort();
}

/** What is the lab's and no other stack's: its addresses, names and measured figures, read from its own files. */
function labFigures(): { what: string; pattern: RegExp }[] {
    const config = (parse(readFileSync(path.resolve(__dirname, "../../Pulumi.lab.yaml"), "utf8")) as { config: Record<string, any> }).config;
    const key = (k: string) => config[`ha-control-plane:${k}`];
    const cluster = key("cluster");
    const proxmox = key("proxmox");
    const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    // Whole words only (k8s-master not inside k8s-master-2's check, 4.6 not inside 14.6); a prefix (the subnet's) matches what follows it.
    const literal = (what: string, text: string, prefix = false) => ({ what: `${what} ${text}`, pattern: new RegExp(`(?<![\\w.-])${escape(text)}${prefix ? "" : "(?![\\w-])"}`) });
    const figures = [
        literal("the lab's subnet", String(cluster.subnet).replace(/\.\d+\/\d+$/, "."), true),
        literal("the lab's domain", cluster.domain),
        literal("the lab's apiserver name", cluster.apiserverDnsName),
        literal("the Proxmox endpoint", new URL(proxmox.endpoint).hostname),
        literal("the Proxmox bridge", proxmox.bridge),
        literal("the observed working set", `${labPolicyConfig()["control-plane-sizing"].observedWorkingSetGiB}`),
    ];
    for (const node of proxmox.nodes) {
        figures.push(literal("the Proxmox node", node.name), literal("the host's physical memory", `${node.physicalMemoryGiB} GiB`), literal("the host's committed memory", `${node.committedMemoryGiB} GiB`));
    }
    for (const m of key("masters")) figures.push(literal("the master", m.name), { what: `${m.name}'s VMID ${m.vmId}`, pattern: new RegExp(`vm_?id\\W{0,3}${m.vmId}\\b`, "i") });
    for (const w of key("workers")) figures.push(literal("the worker", w.name));
    return figures;
}

describe("the policy pack", () => {
    it("has 16 policies with unique names, a description a reviewer understands, and an enforcement level", () => {
        const names = policies.map((p) => p.name);
        assert.equal(new Set(names).size, names.length);
        assert.equal(names.length, 16);
        for (const p of policies) {
            assert.ok(p.description && p.description.length > 60, `${p.name} has a real description`);
            assert.ok(["advisory", "mandatory"].includes(p.enforcementLevel ?? ""), `${p.name} sets its level`);
        }
        for (const name of ["phase-order", "apiserver-health-check", "vip-conflicts", "masters-do-not-join-as-workers", "control-plane-taint", "etcd-jobs-not-pinned", "reboot-gate-quorum", "secrets-stay-secret", "original-master-protected", "control-plane-sizing", "control-plane-spread", "control-plane-spread-two-nodes", "control-plane-spread-one-node"]) {
            assert.ok(names.includes(name), name);
        }
    });

    describe("policies/lab.json", () => {
        it("names every policy of the pack, at the level the policy declares, and fits every configSchema", () => {
            const lab = labPolicyConfig();
            assert.deepEqual(Object.keys(lab).sort(), policies.map((p) => p.name).sort());
            for (const p of policies) assert.equal(lab[p.name].enforcementLevel, p.enforcementLevel, p.name);
            assert.doesNotThrow(() => resolvePolicyConfig(policies, lab));
        });

        it("holds exactly what the lab topology implies (gateway, MetalLB pool, node addresses, the existing master)", () => {
            const stack = labConfig();
            const derived = policyConfigFromTopology(loadTopology(stack.raw, { project: stack.project, stack: stack.stack, readProjectFile }));
            const lab = labPolicyConfig();
            for (const [policy, properties] of Object.entries(derived)) {
                for (const [key, value] of Object.entries(properties)) assert.deepEqual(lab[policy][key], value, `${policy}.${key}`);
            }
            assert.deepEqual(policyConfigDrift(derived, lab), []);
            assert.deepEqual(policyConfigDrift(derived, { "vip-conflicts": { gateway: "10.0.20.254" } }), ['vip-conflicts.gateway is "10.0.20.254" but the stack\'s topology implies "10.0.20.1"']);
        });
    });

    describe("carries no stack's figures: the lab's come only from --policy-pack-config policies/lab.json", () => {
        it("no file of the pack but lab.json holds one of the lab's addresses, names or measured figures", () => {
            const figures = labFigures();
            assert.ok(figures.length >= 15, "the lab's figures were read");
            const seen = (text: string) => figures.filter((f) => f.pattern.test(text)).map((f) => f.what);
            assert.deepEqual(seen("gateway 10.0.20.254"), ["the lab's subnet 10.0.20."]);
            assert.deepEqual(seen("the existing master k8s-master, VMID 200"), ["the master k8s-master", "k8s-master's VMID 200"]);
            assert.equal(seen("262 GiB of 267 GiB, 4.6 GiB used").length, 3, "the check sees the host's figures and the working set");
            assert.ok(!figures.some((f) => f.pattern.test("expects status 200 from /readyz; 4.65 GiB; 10.0.200.1")), "generic figures are not the lab's");
            const files = packFiles();
            assert.ok(files.includes("index.ts") && files.includes("pack.ts") && files.includes("PulumiPolicy.yaml"), files.join(", "));
            const found = files.flatMap((file) => {
                const text = readFileSync(path.join(POLICIES_DIR, file), "utf8");
                return figures.filter((f) => f.pattern.test(text)).map((f) => `policies/${file}: ${f.what}`);
            });
            assert.deepEqual(found, []);
        });

        it("every pulumi command with the pack in the README, the docs and the workflow passes its --policy-pack-config", () => {
            const root = path.resolve(__dirname, "../..");
            const documents = ["README.md", ...readdirSync(path.join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`), ".github/workflows/pull-request.yml"];
            const uses = documents.flatMap((file) =>
                readFileSync(path.join(root, file), "utf8")
                    .split("\n")
                    .map((line, i) => ({ where: `${file}:${i + 1}`, line }))
                    .filter(({ line }) => /pulumi(\s+--?\S+)*\s+(preview|up|update)\b.*--policy-pack[\s=]/.test(line)),
            );
            assert.ok(uses.length >= 4, `the commands were found: ${uses.map((u) => u.where).join(", ")}`);
            assert.deepEqual(uses.filter(({ line }) => !/--policy-pack-config[\s=]\S/.test(line)).map(({ where, line }) => `${where}: ${line.trim()}`), []);
        });

        it("the pack reads no file: no module of it imports a node built-in (its config arrives from the CLI)", () => {
            const builtins = packFiles()
                .filter((f) => f.endsWith(".ts"))
                .flatMap((file) => importSpecifiers(file, readFileSync(path.join(POLICIES_DIR, file), "utf8")).filter((i) => isNodeBuiltin(i.specifier)).map((i) => `policies/${file}:${i.line} imports ${i.specifier}`));
            assert.deepEqual(builtins, []);
        });

        it("every stack figure a policy needs is required in its schema, so the CLI refuses a config without it, naming the key", () => {
            const required = policies.flatMap((p) => (p.configSchema?.required ?? []).map((key) => `${p.name}.${key}`)).sort();
            assert.deepEqual(required, ["control-plane-sizing.observedWorkingSetGiB", "original-master-protected.name", "original-master-protected.vmId", "vip-conflicts.gateway", "vip-conflicts.metallbPool"]);
            for (const p of policies) {
                for (const [key, schema] of Object.entries(p.configSchema?.properties ?? {})) {
                    if ((p.configSchema?.required ?? []).includes(key)) assert.equal(schema.default, undefined, `${p.name}.${key} is required and has no default`);
                }
            }
            assert.throws(
                () => resolvePolicyConfig(policies, {}),
                (err: Error) =>
                    err instanceof PolicyConfigError &&
                    required.every((r) => {
                        const [policy, key] = r.split(".");
                        return err.message.includes(`policy ${policy}: ${key} is required`);
                    }),
            );
        });
    });

    describe("policy config, reconciled as the CLI does it", () => {
        it("fills in schema defaults, applies `all`, then each policy's own entry", () => {
            const { "vip-conflicts": vip, "original-master-protected": master } = labPolicyConfig();
            const sizing = { observedWorkingSetGiB: 4.6 };
            const resolved = resolvePolicyConfig(policies, { all: { enforcementLevel: "advisory" }, "phase-order": { enforcementLevel: "mandatory" }, "vip-conflicts": vip, "original-master-protected": master, "control-plane-sizing": sizing });
            assert.equal(resolved.get("control-plane-sizing")!.properties.maxRatio, 4);
            assert.equal(resolved.get("apiserver-health-check")!.properties.maxDetectionMs, 2000);
            assert.equal(resolved.get("ram-headroom")!.level, "advisory");
            assert.equal(resolved.get("phase-order")!.level, "mandatory");
        });

        it("refuses a config that misses a required key or has the wrong type, naming the policy and the key", () => {
            assert.throws(() => resolvePolicyConfig(policies, { "vip-conflicts": { gateway: "10.0.20.1" } }), (err: Error) => err instanceof PolicyConfigError && /policy vip-conflicts: metallbPool is required/.test(err.message));
            assert.throws(() => resolvePolicyConfig(policies, { ...labPolicyConfig(), "apiserver-health-check": { maxDetectionMs: "fast" } }), /policy apiserver-health-check: maxDetectionMs must be integer/);
        });
    });

    describe("held together: the lab topology at every phase, the whole pack, policies/lab.json", () => {
        it("passes every policy at every phase but ram-headroom, which blocks from phase 2 on (the seed's deferral); advisories are listed", async () => {
            const lab = labPolicyConfig();
            for (const phase of PHASE_IDS) {
                const violations = await runPolicies(policies, (await cachedLab(phase)).resources, lab);
                const mandatory = violations.filter((v) => v.enforcementLevel === "mandatory");
                const expected = phaseIndex(phase) >= phaseIndex("2") ? ["ram-headroom"] : [];
                assert.deepEqual(mandatory.map((v) => v.policy), expected, `phase ${phase}: ${mandatory.map((v) => v.message).join("; ")}`);
                // Allowed and listed: master-2's join leaves etcd at 2 members (quorum 2) until master-3 joins,
                // and every member shares the lab's one Proxmox host.
                const advisory = violations.filter((v) => v.enforcementLevel === "advisory").map((v) => v.policy);
                assert.deepEqual(advisory, phaseIndex(phase) >= phaseIndex("2") ? ["etcd-quorum-transition", "control-plane-spread-one-node"] : [], `phase ${phase} advisories`);
            }
        });

        it("the plan at phase 7 applies policies/lab.json and places each verdict in the phase whose up it stops (ram-headroom at the first master that does not fit)", async () => {
            const plan = await computePlan({ targetPhase: "7" });
            assert.equal(plan.policyConfigSource, "policies/lab.json");
            assert.deepEqual(plan.violations.map((v) => [v.policy, v.enforcementLevel, v.phase]), [
                ["ram-headroom", "mandatory", "2"],
                ["etcd-quorum-transition", "advisory", "2"],
                ["control-plane-spread-one-node", "advisory", "3"],
            ]);
            assert.ok(plan.blocked);
        });
    });
});
