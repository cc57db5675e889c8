/**
 * npm run bench:plan: how long the offline plan of the full lab topology takes (the whole
 * command, as a user runs it), next to the cost of merely loading @pulumi/pulumi, measured in
 * the same run on the same machine. Prints figures; asserts nothing.
 *
 * Last line: plan_s=<median> baseline_s=<median> ratio=<r>   (target: ratio <= 4)
 */
import { spawnSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { parse, stringify } from "yaml";

const ROOT = path.resolve(__dirname, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

function seconds(cmd: string, args: string[]): number {
    const start = process.hrtime.bigint();
    // stdout to /dev/null: the large plan's JSON (~15 MB) overflows spawnSync's 1 MiB buffer,
    // which kills the child; the figure is the time, not the text.
    const run = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", timeout: 120_000, stdio: ["ignore", "ignore", "pipe"] });
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    // The lab plan at phase 7 is blocked by design (exit 1); anything else is a failure.
    if (run.status !== 0 && run.status !== 1) throw new Error(`${cmd} ${args.join(" ")} failed (${run.status}): ${run.stderr}`);
    return elapsed;
}

function median(xs: number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const fmt = (n: number): string => n.toFixed(3);

/**
 * The lab stack grown to 7 masters and 200 workers on a /20 (room for the addresses), written
 * as a stack file: how the plan and the whole pack scale with the topology.
 */
function largeStackFile(dir: string): string {
    const doc = parse(readFileSync(path.join(ROOT, "Pulumi.lab.yaml"), "utf8")) as { config: Record<string, any> };
    const c = doc.config;
    c["ha-control-plane:cluster"].subnet = "10.0.16.0/20";
    c["ha-control-plane:proxmox"].nodes[0].committedMemoryGiB = 100;
    const template = c["ha-control-plane:masters"][1];
    c["ha-control-plane:masters"] = [
        c["ha-control-plane:masters"][0],
        ...[2, 3, 4, 5, 6, 7].map((i) => ({ ...template, name: `k8s-master-${i}`, ip: `10.0.20.${108 + i}`, vmId: 203 + i })),
    ];
    c["ha-control-plane:workers"] = Array.from({ length: 200 }, (_, i) => ({ name: `k8s-node${i + 1}`, ip: `10.0.${21 + Math.floor(i / 200)}.${(i % 200) + 10}` }));
    const file = path.join(dir, "Pulumi.large.yaml");
    writeFileSync(file, stringify(doc));
    return file;
}

function main(): void {
    const baseline: number[] = [];
    const plan: number[] = [];
    // Interleaved, so a noisy moment hits both series alike.
    for (let i = 0; i < RUNS; i++) {
        baseline.push(seconds(process.execPath, ["-e", "require('@pulumi/pulumi')"]));
        plan.push(seconds(path.join(ROOT, "node_modules", ".bin", "tsx"), ["tools/plan.ts", "--target-phase", "7", "--format", "json"]));
    }
    console.log(`runs: ${RUNS} each, interleaved`);
    console.log(`baseline (node -e "require('@pulumi/pulumi')"): ${baseline.map(fmt).join(" ")} s`);
    console.log(`plan (tsx tools/plan.ts --target-phase 7):     ${plan.map(fmt).join(" ")} s`);
    const dir = mkdtempSync(path.join(tmpdir(), "hacp-bench-"));
    const large: number[] = [];
    try {
        const file = largeStackFile(dir);
        for (let i = 0; i < RUNS; i++) {
            large.push(seconds(path.join(ROOT, "node_modules", ".bin", "tsx"), ["tools/plan.ts", "--config-file", file, "--target-phase", "7", "--format", "json"]));
        }
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
    const p = median(plan);
    const b = median(baseline);
    const l = median(large);
    console.log(`large (7 masters, 200 workers, phase 7, whole pack): ${large.map(fmt).join(" ")} s`);
    console.log(`growth: lab ${fmt(p)} s -> large ${fmt(l)} s (x${(l / p).toFixed(2)}); above the process baseline: ${fmt(p - b)} s -> ${fmt(l - b)} s`);
    console.log(`plan_s=${fmt(p)} baseline_s=${fmt(b)} ratio=${(p / b).toFixed(2)}`);
}

main();
