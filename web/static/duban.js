// The pages' one script (the CSP allows scripts from this site only, none inline).
// A list's 全选 box (id "all") ticks every item box of its form.
document.addEventListener("DOMContentLoaded", () => {
  const all = document.getElementById("all");
  if (all) {
    all.addEventListener("click", () => {
      for (const box of document.querySelectorAll("input[name=item]")) box.checked = all.checked;
    });
  }
});
