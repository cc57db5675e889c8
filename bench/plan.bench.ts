/**
 * npm run bench:plan: how long the offline plan of the full lab topology takes (the whole
 * command, as a user runs it), next to the cost of merely loading @pulumi/pulumi, measured in
 * the same run on the same machine. Prints figures; asserts nothing.
 *
 * Last line: plan_s=<median> baseline_s=<median> ratio=<r>   (target: ratio <= 4)
 */
import { spawnSync } from "child_process";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

function seconds(cmd: string, args: string[]): number {
    const start = process.hrtime.bigint();
    const run = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
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
    const p = median(plan);
    const b = median(baseline);
    console.log(`plan_s=${fmt(p)} baseline_s=${fmt(b)} ratio=${(p / b).toFixed(2)}`);
}

main();
