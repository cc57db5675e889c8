/**
 * The pack as a whole: every policy described and configurable, policies/lab.json in step with
 * the pack and with the lab topology, the config reconciled as the CLI does it, and the
 * held-together check: at every phase the lab plan passes every policy but the RAM verdict that
 * reproduces the seed's deferral.
 */
import { strict as assert } from "assert";
import { policies } from "../../policies/pack";
import { policyConfigDrift, policyConfigFromTopology } from "../../policies/topologyConfig";
import { loadTopology, phaseIndex, PHASE_IDS } from "../../topology";
import { computePlan } from "../../tools/planModel";
import { PolicyConfigError, resolvePolicyConfig, runPolicies } from "../../tools/policyRunner";
import { cachedLab, labConfig } from "../helpers/program";
import { labPolicyConfig } from "../helpers/policy";
import { readProjectFile } from "../../components/projectFiles";

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

    describe("policy config, reconciled as the CLI does it", () => {
        it("fills in schema defaults, applies `all`, then each policy's own entry", () => {
            const { "vip-conflicts": vip, "original-master-protected": master } = labPolicyConfig();
            const resolved = resolvePolicyConfig(policies, { all: { enforcementLevel: "advisory" }, "phase-order": { enforcementLevel: "mandatory" }, "vip-conflicts": vip, "original-master-protected": master });
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
