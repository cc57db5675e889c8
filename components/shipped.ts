/**
 * A remote step as it is shipped: the command line the SSH server runs (create, and delete for
 * a step that undoes itself) and the text the script arrives as on stdin. Components build their
 * commands through exported functions returning this, and the script tests run exactly what
 * those functions return (tests/helpers/shipped.ts), so the tests cannot drift from the program.
 */
export interface ShippedCommand {
    readonly create: string;
    readonly delete?: string;
    readonly stdin: string;
}
