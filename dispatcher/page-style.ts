/** The look both admin pages share (dead letters, live tail); each adds its own rules after it. */
export const ADMIN_PAGE_STYLE = `
:root { font-family: system-ui, sans-serif; color: #1d2433; background: #f7f8fa; }
body { margin: 0 auto; padding: 1.5rem; max-width: 100rem; }
h1 { margin: 0 0 .25rem; font-size: 1.5rem; }
.lead { margin: 0 0 1rem; color: #4a5568; }
form { display: flex; flex-wrap: wrap; gap: .75rem; align-items: end; margin-bottom: 1rem; }
label { display: flex; flex-direction: column; font-size: .8rem; color: #4a5568; gap: .2rem; }
input, select { font: inherit; padding: .3rem .4rem; border: 1px solid #cbd2dc; border-radius: 4px; min-width: 8rem; }
button { font: inherit; padding: .3rem .8rem; border: 1px solid #2b6cb0; background: #2b6cb0; color: white; border-radius: 4px; cursor: pointer; }
button:disabled { opacity: .6; cursor: default; }
a { color: #2b6cb0; }
`;
