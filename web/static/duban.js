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
  // A 复制地址 button (data-copy: the id of the text field it copies; hidden until this script runs).
  // The clipboard API needs HTTPS; without it the field's text is selected and the browser's own
  // copy command tried, and failing that the person is told to copy the selected text themselves.
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const field = document.getElementById(button.dataset.copy);
    const said = document.getElementById(button.dataset.copy + "-copied");
    if (!field) continue;
    button.hidden = false;
    const tell = (words) => { if (said) said.textContent = words; };
    const fallback = () => {
      field.focus();
      field.select();
      field.setSelectionRange(0, field.value.length);
      let copied = false;
      try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
      tell(copied ? "地址已复制，可以粘贴到手机日历中。" : "地址已选中，请长按或按 Ctrl+C 复制。");
    };
    button.addEventListener("click", () => {
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(
          () => tell("地址已复制，可以粘贴到手机日历中。"), fallback);
      } else {
        fallback();
      }
    });
  }
});
