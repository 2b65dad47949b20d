// The pages' one script (the CSP allows scripts from this site only, none inline).
// A list's 全选 box (id "all") ticks every item box of its form (the inbox's 催办, the review queue).
document.addEventListener("DOMContentLoaded", () => {
  const all = document.getElementById("all");
  if (all) {
    const scope = all.closest("form") || document;
    all.addEventListener("click", () => {
      for (const box of scope.querySelectorAll("input[type=checkbox][name=item], input[type=checkbox][name=id]")) {
        box.checked = all.checked;
      }
    });
  }
});
