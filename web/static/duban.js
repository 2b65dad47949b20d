// The pages' one script (the CSP allows scripts from this site only, none inline).
// A list's 全选 boxes (the header's id "all", the bulk bar's class "pick-all") tick every item box
// of their form (the inbox's 催办, the review queue, the requests); the bar says how many are ticked.
document.addEventListener("DOMContentLoaded", () => {
  const picks = "input[type=checkbox][name=item], input[type=checkbox][name=id]";
  const alls = [...document.querySelectorAll("#all, input.pick-all")];
  const forms = new Set(alls.map((box) => box.closest("form") || document));
  for (const scope of forms) {
    const mine = alls.filter((box) => (box.closest("form") || document) === scope);
    const update = () => {
      const boxes = [...scope.querySelectorAll(picks)];
      const n = boxes.filter((b) => b.checked).length;
      for (const shown of scope.querySelectorAll(".picked strong")) shown.textContent = String(n);
      for (const box of mine) box.checked = boxes.length > 0 && n === boxes.length;
    };
    for (const all of mine) {
      all.addEventListener("click", () => {
        for (const box of scope.querySelectorAll(picks)) box.checked = all.checked;
        update();
      });
    }
    scope.addEventListener("change", (event) => { if (event.target.matches(picks)) update(); });
    update();
  }
});
