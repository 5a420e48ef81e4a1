// One render at a time: a call during a render asks for one more render after it (no doubled views).
export function serialRenderer(render) {
  let rendering = null;
  let again = false;
  return function route() {
    if (rendering) {
      again = true;
      return rendering;
    }
    rendering = (async () => {
      do {
        again = false;
        await render();
      } while (again);
    })().finally(() => {
      rendering = null;
    });
    return rendering;
  };
}
