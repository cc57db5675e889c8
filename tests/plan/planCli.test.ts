import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { parse, stringify } from "yaml";

const ROOT = path.resolve(__dirname, "../..");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");

/** The text with its line wrapping undone: messages read as one line again. */
function flat(text: string): string {
    return text.replace(/\s+/g, " ");
}

function plan(...args: string[]): { status: number | null; stdout: string; stderr: string } {
    // Read to the end (the root hooks lift spawnSync's 1 MiB limit; a --format json plan is larger):
    // a cut or a timeout fails here, not as a JSON parse error later.
    const run = spawnSync(TSX, [path.join(ROOT, "tools/plan.ts"), ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
    if (run.error) throw run.error;
    return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe("npm run plan (tools/plan.ts), as a user runs it", () => {
    let dir: string;
    const labFile = path.join(ROOT, "Pulumi.lab.yaml");
    /** A copy of the lab stack file with one change, as a user would edit it. */
    function variant(name: string, edit: (config: Record<string, any>) => void): string {
        const doc = parse(readFileSync(labFile, "utf8")) as { config: Record<string, any> };
        edit(doc.config);
        const file = path.join(dir, `${name}.yaml`);
        writeFileSync(file, stringify(doc));
        return file;
    }
    before(() => {
        dir = mkdtempSync(path.join(tmpdir(), "hacp-plan-"));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it("at the lab's phase 0 it exits 0 and already shows the deferral verdict in the outlook", () => {
        const run = plan();
        assert.equal(run.status, 0, run.stderr);
        assert.match(run.stdout, /Phase 0: Retrofit/);
        assert.match(run.stdout, /Outlook: capacity once phase 3 has run/);
        assert.match(run.stdout, /cannot take the new masters: 262 GiB committed \+ 32 GiB planned/);
        assert.match(run.stdout, /Result: OK to run phase 0/);
    });

    it("--target-phase 7 exits 1 with a mandatory ram-headroom violation carrying 267, 262 and 32", () => {
        const run = plan("--target-phase", "7", "--format", "json");
        assert.equal(run.status, 1, run.stderr);
        const doc = JSON.parse(run.stdout);
        assert.equal(doc.targetPhase, "7");
        assert.deepEqual(doc.phases.map((p: { id: string }) => p.id), ["0", "1", "1.5", "2", "3", "4", "4.5", "5", "6", "7"]);
        const ram = doc.violations.filter((v: { policy: string }) => v.policy === "ram-headroom");
        assert.equal(ram.length, 1);
        assert.equal(ram[0].enforcementLevel, "mandatory");
        for (const figure of ["267", "262", "32 GiB planned"]) assert.ok(ram[0].message.includes(figure), figure);
        assert.deepEqual(doc.capacity, [{ node: "pve", physicalGiB: 267, committedGiB: 262, hostReserveGiB: 8, plannedGiB: 32, headroomGiB: -35 }]);
        assert.deepEqual(doc.quorum.map((q: { members: number }) => q.members), [1, 2, 3]);
        for (const p of doc.phases) for (const r of p.resources) for (const key of ["urn", "type", "name", "dependencies", "inputs"]) assert.ok(key in r);
    });

    it("with room on the host (200 GiB committed) the same plan exits 0; 32 GiB masters block it again", () => {
        const roomy = variant("roomy", (c) => (c["ha-control-plane:proxmox"].nodes[0].committedMemoryGiB = 200));
        assert.equal(plan("--config-file", roomy, "--target-phase", "7").status, 0);
        const big = variant("big", (c) => {
            c["ha-control-plane:proxmox"].nodes[0].committedMemoryGiB = 200;
            for (const m of c["ha-control-plane:masters"].slice(1)) m.memoryGiB = 32;
        });
        const run = plan("--config-file", big, "--target-phase", "7");
        assert.equal(run.status, 1);
        assert.match(flat(run.stdout), /MANDATORY ram-headroom: .*64 GiB planned/);
    });

    it("bad config exits 2 with a message naming the key; nothing is planned", () => {
        const bad = variant("bad", (c) => (c["ha-control-plane:cluster"].vip = "10.0.20.210"));
        const run = plan("--config-file", bad);
        assert.equal(run.status, 2);
        assert.match(run.stderr, /cluster\.vip = "10\.0\.20\.210": must not be inside cluster\.metallbPool/);
        assert.equal(run.stdout, "");
        assert.equal(plan("--target-phase", "8").status, 2);
        assert.equal(plan("--format", "yaml").status, 2);
    });

    it("shows secrets as [secret] and says which secrets it replaced", () => {
        const withSecret = variant("secret", (c) => {
            c["ha-control-plane:ssh"].privateKey = "-----BEGIN OPENSSH PRIVATE KEY-----PLAINTEXT-----END";
            c["ha-control-plane:proxmox"].apiToken = { secure: "v1:AAAABBBB" };
        });
        const run = plan("--config-file", withSecret, "--target-phase", "3", "--format", "json");
        assert.equal(run.status, 1);
        assert.ok(!run.stdout.includes("PLAINTEXT"), "a plain-text secret never reaches the output");
        assert.ok(!run.stdout.includes("placeholder-for-"), "placeholders are secrets too");
        assert.ok(run.stdout.includes('"[secret]"'));
        const notes: string[] = JSON.parse(run.stdout).notes;
        assert.ok(notes.some((n) => /ssh\.privateKey is given in plain text/.test(n)));
        assert.ok(notes.some((n) => /apiToken is encrypted/.test(n)));
        assert.ok(notes.some((n) => /tsigSecret is not set/.test(n)));
    });

    it("renders a Markdown summary for pull requests, with the verdicts of each phase", () => {
        const run = plan("--target-phase", "3", "--format", "markdown");
        assert.equal(run.status, 1);
        assert.match(run.stdout, /^## ha-control-plane plan/m);
        assert.match(run.stdout, /\| pve \| 267 \| 8 \| 262 \| 32 \| -35 \| BLOCKED \|/);
        assert.match(run.stdout, /^\| 2 \| Second master.* \| 1 mandatory, 1 advisory \|$/m, "ram-headroom stands under phase 2, whose up it refuses first");
        assert.match(run.stdout, /^\| 3 \| Further masters.* \| 1 advisory \|$/m);
        assert.match(run.stdout, /16 policies, config policies\/lab\.json\./);
        assert.match(run.stdout, /#### Phase 2: Second master[^\n]*\n\n- \*\*mandatory\*\* `ram-headroom`: Proxmox node pve cannot take/);
        assert.match(run.stdout, /<details><summary>Phase 2: Second master[^<]*\(22 steps; 1 mandatory, 1 advisory\)<\/summary>/);
        assert.match(run.stdout, /```mermaid\nflowchart LR/);
    });

    it("--policy-config FILE: levels and thresholds from the file (what pulumi --policy-pack-config gets); a bad file exits 2", () => {
        const lab = JSON.parse(readFileSync(path.join(ROOT, "policies/lab.json"), "utf8"));
        const file = path.join(dir, "relaxed.json");
        writeFileSync(file, JSON.stringify({ ...lab, "ram-headroom": { enforcementLevel: "advisory" }, "vip-conflicts": { ...lab["vip-conflicts"], metallbPool: "10.0.20.90-10.0.20.109" } }));
        const run = plan("--target-phase", "3", "--policy-config", file);
        assert.equal(run.status, 1, "the VIP inside that pool is a mandatory violation");
        assert.match(run.stdout, /Phase 2: Second master[^!]*  ! ADVISORY ram-headroom: Proxmox node pve cannot take the new masters/);
        assert.match(run.stdout, /\nPhase 0: Retrofit[^!]*\n  ! MANDATORY vip-conflicts: the apiserver VIP 10\.0\.20\.99 \(phase 0's[^\n]*\n(?: {6}[^\n]*\n)*\nPhase 1: /);
        assert.match(run.stdout, /note: .*relaxed\.json: vip-conflicts\.metallbPool is "10\.0\.20\.90-10\.0\.20\.109" but the stack's topology implies "10\.0\.20\.200-10\.0\.20\.220"/);
        assert.match(run.stdout, /Policy verdicts: 16 policies, config .*relaxed\.json/);
        writeFileSync(file, JSON.stringify({ "vip-conflicts": { gateway: 1 } }));
        const bad = plan("--policy-config", file);
        assert.equal(bad.status, 2);
        assert.match(bad.stderr, /policy vip-conflicts: gateway must be string/);
        assert.equal(plan("--policy-config", path.join(dir, "missing.json")).status, 2);
    });
});
