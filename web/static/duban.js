// The pages' one script (the CSP allows scripts from this site only, none inline).
document.addEventListener("DOMContentLoaded", () => {
  // A list's 全选 box (id "all") ticks every item box of its form (the inbox's 催办, the review queue).
  const all = document.getElementById("all");
  if (all) {
    const scope = all.closest("form") || document;
    all.addEventListener("click", () => {
      for (const box of scope.querySelectorAll("input[type=checkbox][name=item], input[type=checkbox][name=id]")) {
        box.checked = all.checked;
      }
    });
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
