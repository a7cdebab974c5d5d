export async function runUi() { throw new Error("not yet"); }
