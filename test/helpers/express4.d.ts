// Express 4, installed under an alias (`express4: npm:express@4`) to run the suite on both majors.
declare module 'express4' {
  import express from 'express';
  export default express;
}

// Express 4.17.1, the lowest version in the peer range (`express417: npm:express@4.17.1`).
declare module 'express417' {
  import express from 'express';
  export default express;
}
