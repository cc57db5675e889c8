import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { SCRIPTS_DIR } from "../../components/scriptFile";
import { capacityRow } from "../../topology";

const GIB = 1024 ** 3;

/**
 * scripts/proxmox/capacity-check.sh with a stand-in `pvesh` (Proxmox's CLI cannot run here; the
 * stand-in prints what `pvesh get /nodes/<node>/qemu --output-format json` prints) and a
 * meminfo file for the node's physical memory. The arithmetic is the script's own, in Perl.
 */
describe("capacity-check.sh (stand-in pvesh: Proxmox cannot run here)", () => {
    let dir: string;
    before(() => {
        dir = mkdtempSync(path.join(tmpdir(), "hacp-capacity-"));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    function check(vms: { vmid: number; maxmem: number }[], physicalKiB: number, args: string[]) {
        writeFileSync(path.join(dir, "vms.json"), JSON.stringify(vms));
        writeFileSync(
            path.join(dir, "pvesh"),
            `#!/usr/bin/env bash\n[[ "$*" == "get /nodes/pve/qemu --output-format json" ]] || { echo "unexpected: $*" >&2; exit 9; }\ncat "${dir}/vms.json"\n`,
        );
        chmodSync(path.join(dir, "pvesh"), 0o755);
        writeFileSync(path.join(dir, "meminfo"), `MemTotal:       ${physicalKiB} kB\nMemFree:        1000 kB\n`);
        return spawnSync("bash", [path.join(SCRIPTS_DIR, "proxmox/capacity-check.sh"), ...args], {
            encoding: "utf8",
            timeout: 30_000,
            env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, CAPACITY_CHECK_MEMINFO: path.join(dir, "meminfo") },
        });
    }
    const labArgs = (committed: number, planned = "205:16,206:16") =>
        ["--node", "pve", "--physical-gib", "267", "--committed-gib", String(committed), "--reserve-gib", "8", "--planned", planned];
    const physical267 = 267 * 1024 * 1024;
    // Today's lab: 262 GiB allocated across the existing VMs.
    const labVms = [{ vmid: 200, maxmem: 32 * GIB }, { vmid: 201, maxmem: 230 * GIB }];

    it("refuses the lab today: 262 GiB allocated + 32 GiB planned > 259 GiB usable", () => {
        const run = check(labVms, physical267, labArgs(262));
        assert.equal(run.status, 1);
        assert.match(run.stderr, /REFUSED: proxmox node pve: 262\.0 GiB allocated \+ 32\.0 GiB planned = 294\.0 GiB > 259\.0 GiB usable/);
    });

    it("lets the plan through when the host has room", () => {
        const run = check([{ vmid: 200, maxmem: 32 * GIB }, { vmid: 201, maxmem: 168 * GIB }], physical267, labArgs(200));
        assert.equal(run.status, 0, run.stderr);
        assert.match(run.stdout, /node pve fits: 27\.0 GiB headroom/);
    });

    it("counts planned VMs that already exist once (a re-run after a partial up)", () => {
        const vms = [{ vmid: 200, maxmem: 32 * GIB }, { vmid: 201, maxmem: 168 * GIB }, { vmid: 205, maxmem: 16 * GIB }];
        assert.equal(check(vms, physical267, labArgs(200)).status, 0);
    });

    it("refuses stale figures: more allocated today than the config says", () => {
        const run = check([{ vmid: 200, maxmem: 32 * GIB }, { vmid: 201, maxmem: 190 * GIB }], physical267, labArgs(200));
        assert.equal(run.status, 1);
        assert.match(run.stderr, /222\.0 GiB allocated to other VMs, the config says 200 GiB: update committedMemoryGiB/);
    });

    it("refuses a config that overstates the node's physical memory", () => {
        const run = check(labVms, 128 * 1024 * 1024, labArgs(262));
        assert.equal(run.status, 1);
        assert.match(run.stderr, /128\.0 GiB physical, the config says 267 GiB/);
    });

    it("rejects bad arguments with exit 2 before asking Proxmox", () => {
        const run = check(labVms, physical267, ["--node", "pve", "--physical-gib", "lots"]);
        assert.equal(run.status, 2);
        assert.match(run.stderr, /--physical-gib must be a number/);
        assert.equal(check(labVms, physical267, [...labArgs(262).slice(0, 8), "--planned", "205=16"]).status, 2);
    });

    // The script must apply the rule remotely to live figures, so it carries its own copy of the
    // arithmetic; this keeps that copy equal to topology/capacity.ts's capacityRow.
    it("agrees with capacityRow on 40 random nodes and plans (live figures equal to the config)", () => {
        let seed = 20261121;
        const next = (n: number) => {
            seed = (seed * 1103515245 + 12345) % 2 ** 31;
            return seed % n;
        };
        for (let i = 0; i < 40; i++) {
            const physical = 32 + next(300);
            const reserve = next(16);
            const committed = next(physical);
            const planned = [1 + next(40), 1 + next(40)];
            const vms = [{ vmid: 100, maxmem: committed * GIB }];
            const run = check(
                vms,
                physical * 1024 * 1024,
                ["--node", "pve", "--physical-gib", String(physical), "--committed-gib", String(committed), "--reserve-gib", String(reserve), "--planned", `205:${planned[0]},206:${planned[1]}`],
            );
            const row = capacityRow({ node: "pve", physicalGiB: physical, committedGiB: committed, hostReserveGiB: reserve }, [
                { name: "a", memoryGiB: planned[0] },
                { name: "b", memoryGiB: planned[1] },
            ]);
            assert.equal(run.status, row.fits ? 0 : 1, `physical ${physical}, reserve ${reserve}, committed ${committed}, planned ${planned}: ${run.stderr}`);
        }
    });
});
